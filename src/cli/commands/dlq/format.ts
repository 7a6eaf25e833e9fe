import type { DeadLetter } from './describe';
import type { DeadLetterPeek, DeadLetterSummary } from './inspect';
import type { QueueRef } from './queues';
import { SAMPLE_VISIBILITY_SECONDS } from './sample';

/** `wal dlq list` as text. */
export function formatSummary(queue: QueueRef, summary: DeadLetterSummary, now: number): string[] {
  const { depth } = summary;
  const lines = [`DLQ ${queue.name} (${queue.url})`];
  if (summary.count === 0) return [...lines, '  messages: 0 (the DLQ is empty)'];
  lines.push(`  messages: ${summary.count} (${depth.visible} visible, ${depth.inFlight} in flight)`);
  if (summary.oldestSentAt !== undefined) {
    const scope = summary.partial ? ' (oldest in the sample)' : '';
    lines.push(`  oldest:   ${timeAndAge(summary.oldestSentAt, now)}${scope}`);
  }
  lines.push(
    summary.partial
      ? `  reasons, from a partial sample (${summary.sampled} of ${summary.count} messages read; the rest are ` +
          'in flight or beyond the read limit):'
      : `  reasons (all ${summary.sampled} messages read):`,
  );
  for (const { reason, count } of summary.reasons) lines.push(`  ${String(count).padStart(6)}  ${reason}`);
  return [...lines, ...hiddenWarning(summary.stillHidden)];
}

/** `wal dlq peek` as text. */
export function formatPeek(queue: QueueRef, peek: DeadLetterPeek, now: number): string[] {
  const lines = [
    `DLQ ${queue.name}: ${peek.count} message(s), showing ${peek.messages.length}, oldest first ` +
      '(they stay on the queue)',
  ];
  peek.messages.forEach((letter, index) => {
    lines.push('', ...formatLetter(letter, index + 1, now));
  });
  return [...lines, ...hiddenWarning(peek.stillHidden)];
}

function formatLetter(letter: DeadLetter, position: number, now: number): string[] {
  const indent = ' '.repeat(String(position).length + 2);
  const field = (label: string, value: string) => `${indent}${`${label}:`.padEnd(12)}${value}`;
  const header = [
    `${position}. ${subject(letter)}`,
    ...(letter.attempts !== undefined ? [`${letter.attempts} attempt(s)`] : []),
    ...(letter.sentAt !== undefined ? [`sent ${timeAndAge(letter.sentAt, now)}`] : []),
  ].join('   ');
  const snippetLabel =
    letter.kind === 'poison' ? 'data' : letter.kind === 'stream-failure' ? 'batch' : 'body';
  return [
    header,
    field('reason', letter.reason),
    ...(letter.lastError !== undefined ? [field('last error', letter.lastError)] : []),
    ...(letter.sourceQueue !== undefined ? [field('moved from', letter.sourceQueue)] : []),
    ...(letter.snippet !== undefined ? [field(snippetLabel, letter.snippet)] : []),
  ];
}

/** `orders/01J... -> main` for a mutation, else what the message is. */
function subject(letter: DeadLetter): string {
  if (letter.namespace === undefined && letter.id === undefined)
    return `${letter.kind} message ${letter.messageId}`;
  const kind = letter.kind === 'retry' ? '' : `${letter.kind} `;
  const target = letter.target ? ` -> ${letter.target}` : '';
  return `${kind}${letter.namespace ?? '?'}/${letter.id ?? letter.messageId}${target}`;
}

function hiddenWarning(stillHidden: number): string[] {
  return stillHidden > 0
    ? [
        `warning: ${stillHidden} message(s) could not be made visible again; they reappear within ` +
          `${SAMPLE_VISIBILITY_SECONDS} s by themselves (nothing is lost).`,
      ]
    : [];
}

function timeAndAge(at: number, now: number): string {
  return `${new Date(at).toISOString()} (${duration(Math.max(now - at, 0))} ago)`;
}

/** 42s, 3m 5s, 2h 10m, 4d 3h */
function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
