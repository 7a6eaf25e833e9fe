import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { WalStack } from '#lib/wal-stack';
import { TEST_ENV } from './fixtures';

// The one test that bundles for real: the other CDK tests skip bundling to stay fast.
test('bundles every Lambda with the local esbuild (no Docker): minified, with a source map', () => {
  // GIVEN an app that bundles (the default) into a temporary cloud assembly
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bundling-'));
  try {
    const app = new App({ outdir });
    const stack = new WalStack(app, 'ServerlessWal-local', { stage: 'local', env: TEST_ENV });

    // WHEN it is synthesized
    const template = Template.fromStack(stack);
    app.synth();

    // THEN each function's asset holds index.js and its source map
    const keys = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Code.S3Key as string,
    );
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      const asset = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
      expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map']);
      const code = fs.readFileSync(path.join(asset, 'index.js'), 'utf8');
      expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
      // Minified: few, long lines.
      expect(code.split('\n').length).toBeLessThan(code.length / 200);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
