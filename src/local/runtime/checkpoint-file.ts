import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CheckpointStore } from '#src/local/event-sources/kinesis-event-source';

/**
 * Kinesis event source checkpoints in a JSON file of the data dir, so a restart resumes where the
 * mappings stopped instead of replaying the whole stream.
 */
export class CheckpointFile {
  private readonly state: Record<string, string>;

  constructor(private readonly path: string) {
    this.state = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>) : {};
  }

  /** The checkpoints of one event source mapping. */
  forMapping(mappingId: string): CheckpointStore {
    return {
      get: (shardId) => this.state[`${mappingId}/${shardId}`],
      set: (shardId, sequenceNumber) => {
        this.state[`${mappingId}/${shardId}`] = sequenceNumber;
        this.save();
      },
    };
  }

  private save(): void {
    // Write then rename: a crash mid-write never leaves a torn file.
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.state));
    renameSync(`${this.path}.tmp`, this.path);
  }
}
