import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildSync, type Metafile } from 'esbuild';
import { ENV } from '#lambdas/shared/environment';
import { LAMBDA_ENTRIES, WAL_BUNDLING } from '#lib/wal-function';
import { WalStack } from '#lib/wal-stack';
import { TEST_ENV } from './fixtures';

/**
 * Text only the fault injector (lambdas/shared/faults.ts) puts in a bundle: it must not ship. The last two are a
 * message of its config schema, which a deployed bundle must not build either, and of its injected errors.
 */
const FAULT_MARKERS = [
  'process.exit',
  'walFaultInjection',
  'WAL_FAULTS',
  '"to" must not be before "from"',
  'injected ',
];

interface Bundle {
  readonly code: string;
  readonly metafile: Metafile;
}

type FunctionName = keyof typeof LAMBDA_ENTRIES;

/**
 * Bundles every entry as NodejsFunction does with {@link WAL_BUNDLING}, or without its `define`: one esbuild run
 * for all of them (each entry still gets a bundle of its own, as a single-entry build would), not one per entry.
 */
function bundleAll(options: { withDefine: boolean }): Record<FunctionName, Bundle> {
  const outdir = path.join(os.tmpdir(), 'wal-bundling-test');
  const result = buildSync({
    entryPoints: LAMBDA_ENTRIES,
    outdir,
    bundle: true,
    platform: 'node',
    write: false,
    metafile: true,
    logLevel: 'silent',
    minify: WAL_BUNDLING.minify,
    target: WAL_BUNDLING.target,
    mainFields: [...WAL_BUNDLING.mainFields],
    external: [...WAL_BUNDLING.externalModules],
    define: options.withDefine ? WAL_BUNDLING.define : {},
  });
  const bundleOf = (name: string): Bundle => {
    const file = path.join(outdir, `${name}.js`);
    const code = result.outputFiles.find((output) => output.path === file)?.text;
    const outputs = Object.entries(result.metafile.outputs).filter(([key]) => path.resolve(key) === file);
    if (code === undefined || outputs.length !== 1) throw new Error(`esbuild wrote no ${file}`);
    return { code, metafile: { inputs: result.metafile.inputs, outputs: Object.fromEntries(outputs) } };
  };
  return Object.fromEntries(Object.keys(LAMBDA_ENTRIES).map((name) => [name, bundleOf(name)])) as Record<
    FunctionName,
    Bundle
  >;
}

/** The input files of the bundle that put code in it. */
function bundledInputs(metafile: Metafile): string[] {
  return Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([file]) => file),
  );
}

/** The variables the stack sets on a function, with dummy values: enough for a handler module to load. */
function dummyEnvironment(): NodeJS.ProcessEnv {
  const dummies = Object.fromEntries(
    Object.values(ENV).map((name) => [name, name.endsWith('SECONDS') ? '60' : 'https://example.com/x']),
  );
  return {
    PATH: process.env.PATH,
    ...dummies,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

// The one test that bundles for real: the other CDK tests skip bundling to stay fast.
test('bundles every Lambda with the local esbuild (no Docker): minified, with a source map without the sources', () => {
  // GIVEN an app that bundles (the default) into a temporary cloud assembly
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bundling-'));
  try {
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new WalStack(app, 'ServerlessWal-local', { stage: 'local', env: TEST_ENV });

    // WHEN it is synthesized
    const template = Template.fromStack(stack);
    app.synth();

    // THEN no function has Node apply the source map at load (docs/performance.md: it costs every cold start)
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: { NODE_OPTIONS: Match.absent() } },
    });
    // AND each function's asset holds index.js and its source map
    const keys = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Code.S3Key as string,
    );
    expect(keys).toHaveLength(Object.keys(LAMBDA_ENTRIES).length);
    for (const key of keys) {
      const asset = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
      expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map']);
      const code = fs.readFileSync(path.join(asset, 'index.js'), 'utf8');
      expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
      // The map names the sources but does not carry them.
      const map = JSON.parse(fs.readFileSync(path.join(asset, 'index.js.map'), 'utf8'));
      expect(map.sources.length).toBeGreaterThan(0);
      expect(map.sourcesContent).toBeUndefined();
      // Minified: few, long lines.
      expect(code.split('\n').length).toBeLessThan(code.length / 200);
      // No test-only code: the fault injector was dropped as dead code.
      for (const marker of FAULT_MARKERS) expect(code).not.toContain(marker);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});

const deployedBundles = bundleAll({ withDefine: true });
let undefinedBundles: Record<FunctionName, Bundle> | undefined;

describe.each(Object.keys(LAMBDA_ENTRIES) as FunctionName[])('the %s bundle', (name) => {
  const deployed = deployedBundles[name];

  it('fails if the fault injection code (process.exit, SDK fault middleware) is in the deployed bundle', () => {
    // GIVEN the handler bundled with the construct's esbuild options (above)
    // WHEN its code is searched for the fault injector's markers
    const found = FAULT_MARKERS.filter((marker) => deployed.code.includes(marker));
    // THEN none is there
    expect(found).toEqual([]);
  });

  it('holds the fault injection code without the define, so the check above can see it', () => {
    // WHEN the same handler is bundled without WAL_FAULT_INJECTION defined (as the source runs locally)
    undefinedBundles ??= bundleAll({ withDefine: false });
    const { code } = undefinedBundles[name];
    // THEN the markers are there: the test above would catch the define going missing
    for (const marker of FAULT_MARKERS) expect(code).toContain(marker);
  });

  it("fails if the bundle takes the SDK's CommonJS builds, classic zod or zod's locales (mainFields, zod imports)", () => {
    // GIVEN the deployed bundle's inputs
    const inputs = bundledInputs(deployed.metafile);
    // WHEN the SDK clients, zod's APIs and zod's locales among them are looked at
    const clientFiles = inputs.filter((file) => /node_modules\/@aws-sdk\/client-[^/]+\/.*\.js$/.test(file));
    const zodApis = inputs.filter((file) => /node_modules\/zod\/v4\/(classic|mini)\//.test(file));
    const locales = inputs.filter((file) => /node_modules\/zod\/.*locales\//.test(file));
    // THEN the clients come from their ES modules (which esbuild can tree-shake)
    expect(clientFiles.length).toBeGreaterThan(0);
    expect(clientFiles.filter((file) => !file.includes('/dist-es/'))).toEqual([]);
    // AND zod is zod/mini only: one lambdas/ module importing 'zod' brings the whole classic API back (about 60 KB)
    expect(zodApis.length).toBeGreaterThan(0);
    expect(zodApis.filter((file) => !file.includes('/zod/v4/mini/'))).toEqual([]);
    // AND only English is there (lambdas/shared/zod-locale.ts)
    expect(locales.map((file) => path.basename(file))).toEqual(['en.js']);
  });

  it('fails if the bundle cannot be loaded by Node as CommonJS (a fresh process requires it)', () => {
    // GIVEN the deployed bundle on disk, as Lambda finds it
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-bundle-require-'));
    try {
      const file = path.join(dir, 'index.js');
      fs.writeFileSync(file, deployed.code);
      // WHEN a fresh Node process requires it with the stack's variables (dummy values)
      const exported = execFileSync(
        process.execPath,
        ['-e', `process.stdout.write(typeof require(${JSON.stringify(file)}).handler)`],
        { env: dummyEnvironment(), encoding: 'utf8' },
      );
      // THEN it loads and exports its handler
      expect(exported).toBe('function');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
