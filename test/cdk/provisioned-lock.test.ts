import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import {
  ALLOW_REPLACE_CONTEXT,
  PROVISIONED_LOCK_FILE,
  ProvisionedLockOutdatedError,
  ProvisionedTargetReplacementError,
  UPDATE_LOCK_CONTEXT,
} from '#lib/provisioned-lock';
import { type ConfigFile, newTestStack, removeDir, writeConfigDir } from './fixtures';

/** `orders` as deployed: one provisioned table keyed by `id`. */
const ORDERS = {
  name: 'orders',
  targets: [{ name: 'orders', type: 'dynamodb', provision: true, key: { partitionKey: 'id' } }],
};
/** What the lock says was deployed for it. */
const LOCK = {
  version: 1,
  provisioned: {
    'orders/orders': { type: 'dynamodb', key: { partitionKey: 'id', partitionKeyType: 'string' } },
  },
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** Synthesizes the prod stage of a throw-away config dir (with the lock) and the given context. */
function synthesizeProd(files: Record<string, ConfigFile>, context: Record<string, string> = {}): string {
  const configDir = writeConfigDir({ prod: files }, { lock: false });
  dirs.push(configDir);
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
  });
  newTestStack({ stage: 'prod', configDir, app });
  return configDir;
}

function lockOf(configDir: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(configDir, 'prod', PROVISIONED_LOCK_FILE), 'utf8'));
}

const withSortKey = {
  ...ORDERS,
  targets: [{ ...ORDERS.targets[0], key: { partitionKey: 'id', sortKey: 'at' } }],
};
const renamed = { ...ORDERS, targets: [{ ...ORDERS.targets[0], name: 'main' }] };

describe('prod: provisioned targets are locked', () => {
  test('an unchanged config synthesizes', () => {
    // WHEN/THEN the config matches its lock
    expect(() => synthesizeProd({ 'orders.json': ORDERS, [PROVISIONED_LOCK_FILE]: LOCK })).not.toThrow();
  });

  test('fails if a prod config changes the key of a provisioned table', () => {
    // GIVEN the orders table gets a sort key (CloudFormation would replace it)
    const files = { 'orders.json': withSortKey, [PROVISIONED_LOCK_FILE]: LOCK };
    // WHEN/THEN the synth refuses, naming the target and the flag that allows it
    expect(() => synthesizeProd(files)).toThrow(ProvisionedTargetReplacementError);
    expect(() => synthesizeProd(files)).toThrow(
      /orders\/orders: .* becomes .*-c wal:allowReplace=orders\/orders/,
    );
  });

  test('fails if a provisioned target is renamed', () => {
    // GIVEN the target "orders" is renamed "main" (a new table; the old one leaves the stack)
    const files = { 'orders.json': renamed, [PROVISIONED_LOCK_FILE]: LOCK };
    // WHEN/THEN
    expect(() => synthesizeProd(files)).toThrow(/orders\/orders: removed or renamed/);
  });

  test('fails if a namespace with a provisioned target is removed', () => {
    // GIVEN another namespace stays, orders is gone
    const other = {
      name: 'other',
      targets: [{ name: 't', type: 'dynamodb', tableName: 'existing-t', key: { partitionKey: 'id' } }],
    };
    // WHEN/THEN
    expect(() => synthesizeProd({ 'other.json': other, [PROVISIONED_LOCK_FILE]: LOCK })).toThrow(
      ProvisionedTargetReplacementError,
    );
  });

  test('passes with the explicit allowance, and records the new key with updateLock', () => {
    // WHEN the key change is allowed and the lock updated
    const configDir = synthesizeProd(
      { 'orders.json': withSortKey, [PROVISIONED_LOCK_FILE]: LOCK },
      { [ALLOW_REPLACE_CONTEXT]: 'orders/orders', [UPDATE_LOCK_CONTEXT]: 'true' },
    );
    // THEN the lock holds the new key
    expect(lockOf(configDir)).toEqual({
      version: 1,
      provisioned: {
        'orders/orders': {
          type: 'dynamodb',
          key: { partitionKey: 'id', partitionKeyType: 'string', sortKey: 'at', sortKeyType: 'string' },
        },
      },
    });
  });

  test('fails if the allowed change is not recorded in the lock (the next synth must not need the flag)', () => {
    // WHEN the rename is allowed but the lock not updated
    const run = () =>
      synthesizeProd(
        { 'orders.json': renamed, [PROVISIONED_LOCK_FILE]: LOCK },
        { [ALLOW_REPLACE_CONTEXT]: 'orders/orders' },
      );
    // THEN the synth asks for the lock update
    expect(run).toThrow(ProvisionedLockOutdatedError);
  });

  test('fails if a new provisioned target is not in the lock, and updateLock adds it', () => {
    // GIVEN a new namespace with a provisioned table
    const files = {
      'orders.json': ORDERS,
      'payments.json': { ...ORDERS, name: 'payments' },
      [PROVISIONED_LOCK_FILE]: LOCK,
    };
    // WHEN/THEN without the update it fails, with it the lock lists both
    expect(() => synthesizeProd(files)).toThrow(/payments\/orders: new/);
    const configDir = synthesizeProd(files, { [UPDATE_LOCK_CONTEXT]: 'true' });
    expect(Object.keys((lockOf(configDir) as typeof LOCK).provisioned)).toEqual([
      'orders/orders',
      'payments/orders',
    ]);
  });

  test("fails if an isolated namespace's isolation ends (what waits on its own queues would be stranded)", () => {
    // GIVEN orders was deployed isolated: its own queues are in the lock
    const isolated = { ...ORDERS, delivery: { isolated: true } };
    const lock = {
      version: 1,
      provisioned: { ...LOCK.provisioned, 'orders/@delivery-queues': { type: 'sqs' } },
    };
    expect(() => synthesizeProd({ 'orders.json': isolated, [PROVISIONED_LOCK_FILE]: lock })).not.toThrow();
    // WHEN the config drops the isolation THEN the synth refuses, naming the queues' entry
    expect(() => synthesizeProd({ 'orders.json': ORDERS, [PROVISIONED_LOCK_FILE]: lock })).toThrow(
      /orders\/@delivery-queues: removed or renamed/,
    );
  });

  test('fails if the prod stage has no lock file', () => {
    // WHEN/THEN the lock file is missing
    expect(() => synthesizeProd({ 'orders.json': ORDERS })).toThrow(/orders\/orders: new/);
  });

  test('a stage without the lock setting (dev) synthesizes any change without a lock file', () => {
    // GIVEN a dev stage with a key change and no lock
    const configDir = writeConfigDir({ dev: { 'orders.json': withSortKey } }, { lock: false });
    dirs.push(configDir);
    // WHEN/THEN
    expect(() => newTestStack({ stage: 'dev', configDir })).not.toThrow();
    expect(fs.existsSync(path.join(configDir, 'dev', PROVISIONED_LOCK_FILE))).toBe(false);
  });
});
