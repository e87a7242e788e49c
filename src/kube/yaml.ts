/**
 * Multi-document YAML parsing for Kubernetes manifests. A syntax error fails the whole file (the
 * caller skips that file only); empty documents (`---` twice) are dropped but keep their index so
 * messages point at the document the user sees.
 */
import { loadAll } from 'js-yaml';

export interface YamlDocument {
  /** 1-based position of the document in the file. */
  index: number;
  value: unknown;
}

export type YamlParseResult =
  | { ok: true; documents: YamlDocument[] }
  /** `message` is whole; `reason`, `line` and `column` are its parts, for callers that place it themselves. */
  | { ok: false; message: string; reason: string; line?: number; column?: number };

export function parseYamlDocuments(text: string): YamlParseResult {
  // JSON is YAML; JSON.parse is ~50x faster than the YAML parser on big generated states
  // (e.g. a `kind: List` written by a generator or `kubectl get -o json`). Fall back on failure:
  // YAML flow mappings like `{a: b}` also start with '{'.
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      return { ok: true, documents: value === null ? [] : [{ index: 1, value }] };
    } catch {
      // Not JSON: parse as YAML below.
    }
  }
  let values: unknown[];
  try {
    values = loadAll(text);
  } catch (err) {
    const e = err as { reason?: unknown; mark?: { line?: unknown; column?: unknown }; message?: unknown };
    const reason = typeof e.reason === 'string' ? e.reason : typeof e.message === 'string' ? (e.message.split('\n')[0] ?? '') : String(err);
    const line = typeof e.mark?.line === 'number' ? e.mark.line + 1 : undefined;
    const column = typeof e.mark?.column === 'number' ? e.mark.column + 1 : undefined;
    const where = line === undefined ? '' : ` at line ${line}${column === undefined ? '' : `, column ${column}`}`;
    const failed: Extract<YamlParseResult, { ok: false }> = { ok: false, message: `YAML syntax error${where}: ${reason}`, reason };
    if (line !== undefined) failed.line = line;
    if (column !== undefined) failed.column = column;
    return failed;
  }
  const documents: YamlDocument[] = [];
  values.forEach((value, i) => {
    if (value !== null && value !== undefined) documents.push({ index: i + 1, value });
  });
  return { ok: true, documents };
}

/**
 * The 1-based line each document of a multi-document file starts on, by document index (the same
 * numbering as parseYamlDocuments). A document starts after a `---` marker; text before the first
 * marker is a document only when it holds more than comments and directives.
 */
export function documentStartLines(text: string): number[] {
  const starts: number[] = [];
  const lines = text.split('\n');
  let pending: number | undefined = 1;
  let pendingHasContent = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^---(\s|$)/.test(line)) {
      if (pending !== undefined && (pendingHasContent || starts.length > 0)) starts.push(pending);
      // Content on the marker line itself (`--- {a: 1}`) belongs to the new document.
      pending = i + 1 + (line.slice(3).trim() === '' ? 1 : 0);
      pendingHasContent = true;
      continue;
    }
    if (!pendingHasContent && line.trim() !== '' && !line.trimStart().startsWith('#') && !line.startsWith('%')) pendingHasContent = true;
  }
  if (pending !== undefined && pendingHasContent) starts.push(pending);
  return starts.map((l) => Math.min(l, lines.length));
}
