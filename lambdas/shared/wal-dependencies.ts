import type { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Ledger } from './ledger';
import type { NamespaceConfigSource } from './namespace-store';

/** What every WAL function's logic needs: the stream, the ledger, the namespaces, a clock. */
export interface WalDependencies {
  readonly kinesis: KinesisClient;
  readonly ledger: Ledger;
  readonly namespaces: NamespaceConfigSource;
  readonly logger: Logger;
  readonly now: () => number;
  readonly random: () => number;
}
