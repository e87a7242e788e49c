/**
 * Reads a cluster-set directory: one sub-directory per member cluster (its name is the cluster
 * ID), each holding Kubernetes manifests (`.yaml`, `.yml`, `.json`, `kind: List` included).
 *
 * - Fail static: a file that does not parse (a syntax error, or a save caught half written) keeps
 *   the objects of its last good version, and so does an object that turns invalid; each case is a
 *   Problem naming file and line. Only deleting a file (or the object in it) removes its objects.
 * - Incremental: given the paths that changed (from the directory watcher), a reload stats and
 *   re-reads only those files; every other file's parsed objects come from the cache.
 * - Symlinks are followed (to a file or to a cluster directory); one that does not resolve (dangling,
 *   a loop) is a Problem, never a silent skip.
 * - Every message is bounded: values are previewed, never formatted whole.
 */
import { serviceKey } from '../model/service-key.ts';
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { type LocalObject, formatFieldError, translateObject } from '../kube/translate.ts';
import { documentStartLines, parseYamlDocuments } from '../kube/yaml.ts';
import { clipText } from '../model/bounded-text.ts';
import { isValidClusterId } from '../model/names.ts';
import type { ClusterId } from '../model/types.ts';
import { statErrorVersion, statVersion } from './file-version.ts';
import { type ClusterInputs, emptyInputs } from './memory-cluster.ts';

/** The marker file that simulates a cluster whose agent is down (its lease stops renewing). */
export const OFFLINE_MARKER = 'OFFLINE';

/** Namespaces every Kubernetes cluster has, whether or not a file declares them. */
const BUILTIN_NAMESPACES = ['default'];

/** Files larger than this are not read (a generated state of 10,000 services is about 3 MiB). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Problems reported per file at most; the rest are counted in one summary problem. */
const MAX_PROBLEMS_PER_FILE = 20;
/** Field errors listed per object at most. */
const MAX_ERRORS_PER_OBJECT = 5;
const MAX_MESSAGE_CHARS = 600;

export interface Problem {
  severity: 'error' | 'warning';
  /** Path as the user passed the directory, e.g. `examples/basic/west/web.yaml`. */
  file: string;
  /** 1-based line the problem is on (the document's first line for an object problem). */
  line?: number;
  /** 1-based column, for syntax errors. */
  column?: number;
  /** 1-based document index in a multi-document file. */
  document?: number;
  /** `Service shop/web` */
  object?: string;
  /** The first failing field path, when one is known. */
  field?: string;
  message: string;
}

/** `examples/basic/west/web.yaml:9: document 2 (Service shop/web): spec.ports[0].port: must be 1-65535, got 70000` */
export function formatProblem(p: Problem): string {
  let text = p.file;
  if (p.line !== undefined) text += `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
  if (p.document !== undefined) text += `: document ${p.document}`;
  if (p.object !== undefined) text += p.document !== undefined ? ` (${p.object})` : `: ${p.object}`;
  return `${text}: ${p.message}`;
}

export interface LoadedCluster {
  inputs: ClusterInputs;
  offline: boolean;
}

export interface LoadedDir {
  clusters: Map<ClusterId, LoadedCluster>;
  problems: Problem[];
  /**
   * Files reached through a symlink, with the version (stat key) loaded: changes to their targets
   * raise no event in DIR, so the watcher polls them against this version.
   */
  symlinkedFiles: Map<string, string>;
  /** Files (re)read by this load, for the reload log. */
  readFiles: string[];
}

/** What changed since the last load, as the directory watcher saw it. */
export interface ChangeHint {
  /** Paths of changed entries: files, or cluster directories (their whole listing is re-read). */
  paths: ReadonlySet<string>;
}

interface ParsedDocument {
  document: number;
  line: number;
  description: string;
  object: LocalObject;
}

interface FileEntry {
  /** Identity of the version read: inode, size, mtime and ctime (a rename over the file changes the inode). */
  version: string;
  documents: ParsedDocument[];
  problems: Problem[];
  symlink: boolean;
}

interface ClusterState {
  dir: string;
  /** Manifest file name → entry, for the files currently present. */
  files: Map<string, FileEntry>;
  offline: boolean;
  loaded: LoadedCluster;
  /** The cluster's objects, kept up to date file by file (see Assembly). */
  assembly: Assembly;
  /** Problems of the assembly itself (duplicates). */
  assemblyProblems: Problem[];
}

function isManifestName(name: string): boolean {
  return !name.startsWith('.') && (name.endsWith('.yaml') || name.endsWith('.yml') || name.endsWith('.json'));
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ELOOP') return 'symlink loop (too many levels of symbolic links)';
  if (e?.code === 'ENOENT') return 'symlink target does not exist (dangling symlink)';
  return clipText(e instanceof Error ? e.message : String(err), 200);
}

/** Sorted IDs of the cluster sub-directories of `dir` (invalid names are left out; symlinks followed). */
export async function listClusterIds(dir: string): Promise<ClusterId[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const ids: ClusterId[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') || !isValidClusterId(e.name)) continue;
    if (e.isDirectory()) ids.push(e.name);
    else if (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isDirectory()) ids.push(e.name);
  }
  return ids.sort();
}

export interface DirLoaderOptions {
  dir: string;
  /** creationTimestamp for exports without one; keep it stable across reloads. */
  defaultCreatedAt: (cluster: ClusterId, namespace: string, name: string) => number;
}

export class DirLoader {
  private readonly dir: string;
  private readonly defaultCreatedAt: DirLoaderOptions['defaultCreatedAt'];
  private readonly clusters = new Map<ClusterId, ClusterState>();

  constructor(options: DirLoaderOptions) {
    this.dir = options.dir;
    this.defaultCreatedAt = options.defaultCreatedAt;
  }

  /**
   * Loads DIR. Without a hint every file is checked (by stat; unchanged files are not re-read);
   * with one, only the hinted files and the clusters whose directory entry changed.
   */
  async load(hint?: ChangeHint): Promise<LoadedDir> {
    const problems: Problem[] = [];
    const readFiles: string[] = [];
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      problems.push({ severity: 'error', file: this.dir, message: `cannot read directory: ${errnoText(err)}` });
      return { clusters: new Map(), problems, symlinkedFiles: new Map(), readFiles };
    }
    const present = new Map<ClusterId, string>();
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      const clusterDir = join(this.dir, e.name);
      if (e.isSymbolicLink()) {
        const target = await stat(clusterDir).catch((err: unknown) => err as Error);
        if (target instanceof Error) {
          problems.push({ severity: 'error', file: clusterDir, message: `${errnoText(target)}: skipped` });
          continue;
        }
        if (!target.isDirectory()) continue;
      } else if (!e.isDirectory()) {
        continue;
      }
      if (!isValidClusterId(e.name)) {
        problems.push({
          severity: 'error',
          file: clusterDir,
          message: 'directory name is not a valid cluster ID (one or two lowercase DNS labels joined by "."): skipped',
        });
        continue;
      }
      present.set(e.name, clusterDir);
    }
    for (const id of [...this.clusters.keys()]) if (!present.has(id)) this.clusters.delete(id);

    const clusters = new Map<ClusterId, LoadedCluster>();
    const symlinkedFiles = new Map<string, string>();
    for (const [id, clusterDir] of present) {
      const state = await this.refreshCluster(id, clusterDir, hint, readFiles, problems);
      clusters.set(id, state.loaded);
      for (const name of [...state.files.keys()].sort()) {
        const entry = state.files.get(name)!;
        if (entry.symlink) symlinkedFiles.set(join(clusterDir, name), entry.version);
        problems.push(...entry.problems);
      }
      problems.push(...state.assemblyProblems);
    }
    return { clusters, problems, symlinkedFiles, readFiles };
  }

  /** Which file names of a cluster to look at: all of them, or the hinted ones. */
  private async namesToCheck(state: ClusterState | undefined, clusterDir: string, hint: ChangeHint | undefined, problems: Problem[]): Promise<{ names: string[]; full: boolean } | undefined> {
    if (state !== undefined && hint !== undefined && !hint.paths.has(clusterDir) && !hint.paths.has(this.dir)) {
      const names = new Set<string>();
      for (const p of hint.paths) if (dirname(p) === clusterDir) names.add(basename(p));
      return { names: [...names], full: false };
    }
    try {
      return { names: (await readdir(clusterDir)).sort(), full: true };
    } catch (err) {
      problems.push({ severity: 'error', file: clusterDir, message: `cannot read directory: ${errnoText(err)}` });
      return undefined;
    }
  }

  private async refreshCluster(id: ClusterId, clusterDir: string, hint: ChangeHint | undefined, readFiles: string[], problems: Problem[]): Promise<ClusterState> {
    let state = this.clusters.get(id);
    if (state !== undefined && state.dir !== clusterDir) state = undefined;
    const check = await this.namesToCheck(state, clusterDir, hint, problems);
    const files = new Map(state?.files ?? []);
    let offline = state?.offline ?? false;
    /** File names whose entry changed (added, replaced or removed): only their objects are re-assembled. */
    const changed = new Map<string, { before: FileEntry | undefined; after: FileEntry | undefined }>();
    if (check !== undefined) {
      if (check.full) {
        const listed = new Set(check.names);
        for (const [name, entry] of [...files]) {
          if (!listed.has(name)) {
            files.delete(name);
            changed.set(name, { before: entry, after: undefined });
          }
        }
        offline = listed.has(OFFLINE_MARKER);
      }
      for (const name of check.names) {
        if (name === OFFLINE_MARKER) {
          if (!check.full) offline = (await lstat(join(clusterDir, name)).catch(() => undefined)) !== undefined;
          continue;
        }
        if (!isManifestName(name)) continue;
        const previous = files.get(name);
        const next = await this.readFileEntry(id, join(clusterDir, name), previous, readFiles);
        if (next === previous) continue;
        if (next === undefined) files.delete(name);
        else files.set(name, next);
        changed.set(name, { before: previous, after: next });
      }
    }
    if (state !== undefined && changed.size === 0 && offline === state.offline) return state;
    const assembly = state?.assembly ?? new Assembly();
    if (state === undefined) {
      for (const [name, entry] of files) assembly.update(name, undefined, entry);
    } else {
      for (const [name, c] of changed) assembly.update(name, c.before, c.after);
    }
    const inputs = changed.size === 0 && state !== undefined ? state.loaded.inputs : assembly.inputs();
    const next: ClusterState = { dir: clusterDir, files, offline, loaded: { inputs, offline }, assembly, assemblyProblems: assembly.duplicateProblems(clusterDir) };
    this.clusters.set(id, next);
    return next;
  }

  /**
   * The entry for one file: the cached one when the file is unchanged, a new one when it changed,
   * undefined when it is gone (or is not a regular file).
   */
  private async readFileEntry(cluster: ClusterId, path: string, previous: FileEntry | undefined, readFiles: string[]): Promise<FileEntry | undefined> {
    const link = await lstat(path).catch(() => undefined);
    if (link === undefined) return undefined; // deleted (or renamed away)
    const symlink = link.isSymbolicLink();
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      return keepLastGood(previous, { severity: 'error', file: path, message: `${errnoText(err)}` }, symlink, statErrorVersion(err));
    }
    if (!info.isFile()) return undefined;
    const version = statVersion(info);
    if (previous !== undefined && previous.version === version && previous.symlink === symlink) return previous;
    if (info.size > MAX_FILE_BYTES) {
      return keepLastGood(previous, { severity: 'error', file: path, message: `file is ${info.size} bytes, more than the ${MAX_FILE_BYTES} this loader reads` }, symlink, version);
    }
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return keepLastGood(previous, { severity: 'error', file: path, message: `cannot read file: ${errnoText(err)}` }, symlink, version);
    }
    readFiles.push(path);
    return this.parseFile(cluster, path, text, previous, symlink, version);
  }

  private parseFile(cluster: ClusterId, path: string, text: string, previous: FileEntry | undefined, symlink: boolean, version: string): FileEntry {
    const parsed = parseYamlDocuments(text);
    if (!parsed.ok) {
      const problem: Problem = { severity: 'error', file: path, message: `YAML syntax error: ${clipText(parsed.reason, 200)}` };
      if (parsed.line !== undefined) problem.line = parsed.line;
      if (parsed.column !== undefined) problem.column = parsed.column;
      return keepLastGood(previous, problem, symlink, version);
    }
    const lines = documentStartLines(text);
    const problems: Problem[] = [];
    const documents: ParsedDocument[] = [];
    const invalid: Problem[] = [];
    const seenKeys = new Map<string, number>();
    let dropped = 0;
    const report = (p: Problem): void => {
      if (problems.length < MAX_PROBLEMS_PER_FILE) problems.push(p);
      else dropped++;
    };
    const translate = (value: unknown, document: number, itemPrefix: string): void => {
      const line = lines[document - 1] ?? 1;
      const result = translateObject(value, {
        defaultCreatedAt: (ns, name) => this.defaultCreatedAt(cluster, ns, name),
      });
      const object = `${itemPrefix}${result.description}`;
      if (result.status === 'ok') {
        documents.push({ document, line, description: flatCopy(object), object: result.object });
        const o = result.object;
        const key = keyOf(o).key;
        if (key !== undefined) {
          const earlier = seenKeys.get(key);
          if (earlier !== undefined) report({ severity: 'warning', file: path, line, document, object, message: `duplicate of ${path}: document ${earlier}; this one is used` });
          seenKeys.set(key, document);
        }
        if (o.kind === 'Service' && !o.service.headless && o.service.type !== 'ExternalName' && o.service.clusterIPs.length === 0) {
          report({
            severity: 'warning',
            file: path,
            line,
            document,
            object,
            field: 'spec.clusterIP',
            message: 'spec.clusterIP: not set; no API server allocates one here, so an export of it stays Pending',
          });
        }
        return;
      }
      if (result.status === 'ignored') {
        report({ severity: 'warning', file: path, line, document, object, message: `${result.reason}; ignored` });
        return;
      }
      const shown = result.errors.slice(0, MAX_ERRORS_PER_OBJECT).map(formatFieldError);
      if (result.errors.length > MAX_ERRORS_PER_OBJECT) shown.push(`${result.errors.length - MAX_ERRORS_PER_OBJECT} more error(s)`);
      const problem: Problem = { severity: 'error', file: path, line, document, object, message: shown.join('; ') };
      const first = result.errors[0];
      if (first !== undefined && first.path !== '') problem.field = first.path;
      invalid.push(problem);
    };
    for (const doc of parsed.documents) {
      const v = doc.value as { kind?: unknown; items?: unknown } | null;
      // `kind: List` (what `kubectl get -o yaml|json` prints) holds objects in `items`.
      if (v !== null && typeof v === 'object' && v.kind === 'List' && Array.isArray(v.items)) {
        v.items.forEach((item, i) => translate(item, doc.index, `items[${i}] `));
      } else {
        translate(doc.value, doc.index, '');
      }
    }
    // A file is applied whole or not at all: with an invalid object in it (a save caught half
    // written often parses, with a value cut short), the last good version of the file stays.
    const keep = invalid.length > 0 && previous !== undefined && previous.documents.length > 0;
    const outcome = keep ? `file kept at its last good version (${previous.documents.length} object(s))` : 'object skipped';
    for (const p of invalid) report({ ...p, message: clipText(`${p.message}; ${outcome}`, MAX_MESSAGE_CHARS) });
    if (dropped > 0) problems.push({ severity: 'error', file: path, message: `${dropped} more problem(s) in this file not shown` });
    return { version, documents: keep ? previous.documents : documents, problems, symlink };
  }
}

/**
 * A flat copy of a string built from pieces of a file's text. V8 keeps a substring of 13 or more
 * characters (a kind such as `EndpointSlice`) as a slice that holds on to the whole text, so a
 * kept description would keep every file's text alive (measured: the text of every loaded file,
 * plus five string pieces per object, about a third of the loader's heap).
 */
function flatCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** A file that cannot be used now: keep the objects of its last good version (fail static). */
function keepLastGood(previous: FileEntry | undefined, problem: Problem, symlink: boolean, version: string): FileEntry {
  const documents = previous?.documents ?? [];
  const kept = documents.length === 0 ? 'nothing loaded from it' : `keeping the ${documents.length} object(s) of its last good version`;
  return { version, documents, problems: [{ ...problem, message: clipText(`${problem.message}; ${kept}`, MAX_MESSAGE_CHARS) }], symlink };
}

/** The identity of an object for duplicate detection, and the namespace it implies. */
function keyOf(o: LocalObject): { key?: string; namespace?: string } {
  switch (o.kind) {
    case 'Namespace':
      return { namespace: o.name };
    case 'Service':
      return { key: `Service/${serviceKey(o.service)}`, namespace: o.service.namespace };
    case 'EndpointSlice':
      return { key: `EndpointSlice/${o.slice.namespace}/${o.slice.sliceName}`, namespace: o.slice.namespace };
    case 'ServiceExport':
      return { key: `ServiceExport/${serviceKey(o.serviceExport)}`, namespace: o.serviceExport.namespace };
    case 'ServiceImport':
      return { key: `ServiceImport/${serviceKey(o.vip)}`, namespace: o.vip.namespace };
    case 'ClusterProperty':
      // Cluster-scoped: implies no namespace.
      return { key: `ClusterProperty/${o.property.name}` };
  }
}

/**
 * One cluster's objects, kept up to date file by file, so a reload after editing one file costs
 * that file's objects, not the cluster's: every object key knows which files define it, and the
 * file last in name order wins (a later file overrides an earlier one, with a warning).
 */
class Assembly {
  /** object key → file name → document */
  private readonly contributors = new Map<string, Map<string, ParsedDocument>>();
  /** Namespaces implied by the documents, with how many documents imply each. */
  private readonly namespaceRefs = new Map<string, number>();
  private readonly winners = new Map<string, LocalObject>();
  private readonly duplicates = new Set<string>();

  update(file: string, before: FileEntry | undefined, after: FileEntry | undefined): void {
    const affected = new Set<string>();
    for (const doc of before?.documents ?? []) {
      const { key, namespace } = keyOf(doc.object);
      if (namespace !== undefined) {
        const n = (this.namespaceRefs.get(namespace) ?? 0) - 1;
        if (n <= 0) this.namespaceRefs.delete(namespace);
        else this.namespaceRefs.set(namespace, n);
      }
      if (key === undefined) continue;
      this.contributors.get(key)?.delete(file);
      affected.add(key);
    }
    for (const doc of after?.documents ?? []) {
      const { key, namespace } = keyOf(doc.object);
      if (namespace !== undefined) this.namespaceRefs.set(namespace, (this.namespaceRefs.get(namespace) ?? 0) + 1);
      if (key === undefined) continue;
      let c = this.contributors.get(key);
      if (c === undefined) this.contributors.set(key, (c = new Map()));
      c.set(file, doc);
      affected.add(key);
    }
    for (const key of affected) this.resolve(key);
  }

  private resolve(key: string): void {
    const c = this.contributors.get(key);
    if (c === undefined || c.size === 0) {
      this.contributors.delete(key);
      this.winners.delete(key);
      this.duplicates.delete(key);
      return;
    }
    let last: string | undefined;
    for (const file of c.keys()) if (last === undefined || file > last) last = file;
    this.winners.set(key, c.get(last!)!.object);
    if (c.size > 1) this.duplicates.add(key);
    else this.duplicates.delete(key);
  }

  inputs(): ClusterInputs {
    const inputs = emptyInputs();
    inputs.namespaces = [...new Set([...BUILTIN_NAMESPACES, ...this.namespaceRefs.keys()])].sort();
    for (const o of this.winners.values()) {
      if (o.kind === 'Service') inputs.services.push(o.service);
      else if (o.kind === 'EndpointSlice') inputs.endpointSlices.push(o.slice);
      else if (o.kind === 'ServiceExport') inputs.serviceExports.push(o.serviceExport);
      else if (o.kind === 'ServiceImport') inputs.vips.push(o.vip);
      else if (o.kind === 'ClusterProperty') inputs.properties.push(o.property);
    }
    return inputs;
  }

  /** One warning per overridden definition, naming the one before it (bounded). */
  duplicateProblems(clusterDir: string): Problem[] {
    const problems: Problem[] = [];
    for (const key of [...this.duplicates].sort()) {
      const c = this.contributors.get(key)!;
      const files = [...c.keys()].sort();
      for (let i = 1; i < files.length && problems.length < MAX_PROBLEMS_PER_FILE; i++) {
        const doc = c.get(files[i]!)!;
        const prev = c.get(files[i - 1]!)!;
        problems.push({
          severity: 'warning',
          file: join(clusterDir, files[i]!),
          line: doc.line,
          document: doc.document,
          object: doc.description,
          message: `duplicate of ${join(clusterDir, files[i - 1]!)}: document ${prev.document}; this one is used`,
        });
      }
    }
    return problems;
  }
}
