import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildSync } from 'esbuild';
import { LAMBDA_ENTRIES, WAL_BUNDLING } from '#lib/wal-function';
import { WalStack } from '#lib/wal-stack';
import { TEST_ENV } from './fixtures';

/** Text only the fault injector (lambdas/shared/faults.ts) puts in a bundle: it must not ship. */
const FAULT_MARKERS = ['process.exit', 'walFaultInjection', 'WAL_FAULTS'];

/** Bundles `entry` as NodejsFunction does with {@link WAL_BUNDLING}, or without its `define`. */
function bundle(entry: string, options: { withDefine: boolean }): string {
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    write: false,
    logLevel: 'silent',
    minify: WAL_BUNDLING.minify,
    target: WAL_BUNDLING.target,
    external: [...WAL_BUNDLING.externalModules],
    define: options.withDefine ? WAL_BUNDLING.define : {},
  });
  return result.outputFiles.map((file) => file.text).join('');
}

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
    expect(keys).toHaveLength(Object.keys(LAMBDA_ENTRIES).length);
    for (const key of keys) {
      const asset = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
      expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map']);
      const code = fs.readFileSync(path.join(asset, 'index.js'), 'utf8');
      expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
      // Minified: few, long lines.
      expect(code.split('\n').length).toBeLessThan(code.length / 200);
      // No test-only code: the fault injector was dropped as dead code.
      for (const marker of FAULT_MARKERS) expect(code).not.toContain(marker);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});

describe.each(Object.entries(LAMBDA_ENTRIES))('the %s bundle', (_name, entry) => {
  it('fails if the fault injection code (process.exit, SDK fault middleware) is in the deployed bundle', () => {
    // WHEN the handler is bundled with the construct's esbuild options
    const code = bundle(entry, { withDefine: true });
    // THEN no fault code is left in it
    for (const marker of FAULT_MARKERS) expect(code).not.toContain(marker);
  });

  it('holds the fault injection code without the define, so the check above can see it', () => {
    // WHEN the same handler is bundled without WAL_FAULT_INJECTION defined (as the source runs locally)
    const code = bundle(entry, { withDefine: false });
    // THEN the markers are there: the test above would catch the define going missing
    for (const marker of FAULT_MARKERS) expect(code).toContain(marker);
  });
});
