/**
 * Reads a cluster-set directory: one sub-directory per member cluster (its name is the cluster
 * ID), each holding Kubernetes YAML files. A bad file or object is reported as a Problem and
 * skipped; everything else keeps loading. Parsed files are cached by mtime and size, so a reload
 * after editing one file re-reads only that file.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type LocalObject, formatFieldError, translateObject } from '../kube/translate.ts';
import { parseYamlDocuments } from '../kube/yaml.ts';
import { isValidClusterId } from '../model/names.ts';
import type { ClusterId } from '../model/types.ts';
import { refKey } from '../agent/stores.ts';
import { type ClusterInputs, emptyInputs } from './memory-cluster.ts';

/** The marker file that simulates a cluster whose agent is down (its lease stops renewing). */
export const OFFLINE_MARKER = 'OFFLINE';

/** Namespaces every Kubernetes cluster has, whether or not a file declares them. */
const BUILTIN_NAMESPACES = ['default'];

export interface Problem {
  severity: 'error' | 'warning';
  /** Path as the user passed the directory, e.g. `examples/basic/west/web.yaml`. */
  file: string;
  /** 1-based document index in a multi-document file. */
  document?: number;
  /** `Service shop/web` */
  object?: string;
  /** The first failing field path, when one is known. */
  field?: string;
  message: string;
}

/** `examples/basic/west/web.yaml: document 2 (Service shop/web): spec.ports[0].port: must be 1-65535, got 70000` */
export function formatProblem(p: Problem): string {
  let text = p.file;
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
}

interface ParsedDocument {
  document: number;
  description: string;
  object: LocalObject;
}

interface FileEntry {
  mtimeMs: number;
  size: number;
  documents: ParsedDocument[];
  problems: Problem[];
}

function isManifest(name: string): boolean {
  return !name.startsWith('.') && (name.endsWith('.yaml') || name.endsWith('.yml'));
}

/** Sorted IDs of the cluster sub-directories of `dir` (invalid names are left out). */
export async function listClusterIds(dir: string): Promise<ClusterId[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && isValidClusterId(e.name))
    .map((e) => e.name)
    .sort();
}

export interface DirLoaderOptions {
  dir: string;
  /** creationTimestamp for exports without one; keep it stable across reloads. */
  defaultCreatedAt: (cluster: ClusterId, namespace: string, name: string) => number;
}

export class DirLoader {
  private readonly dir: string;
  private readonly defaultCreatedAt: DirLoaderOptions['defaultCreatedAt'];
  private readonly cache = new Map<string, FileEntry>();
  /** Per cluster: the files' fingerprint and what was assembled from them (reused when unchanged). */
  private readonly clusterCache = new Map<ClusterId, { fingerprint: string; loaded: LoadedCluster; problems: Problem[] }>();

  constructor(options: DirLoaderOptions) {
    this.dir = options.dir;
    this.defaultCreatedAt = options.defaultCreatedAt;
  }

  async load(): Promise<LoadedDir> {
    const problems: Problem[] = [];
    const clusters = new Map<ClusterId, LoadedCluster>();
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      problems.push({ severity: 'error', file: this.dir, message: `cannot read directory: ${(err as Error).message}` });
      return { clusters, problems };
    }
    const seenFiles = new Set<string>();
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const clusterDir = join(this.dir, e.name);
      if (!isValidClusterId(e.name)) {
        problems.push({
          severity: 'error',
          file: clusterDir,
          message: 'directory name is not a valid cluster ID (one or two lowercase DNS labels joined by "."): skipped',
        });
        continue;
      }
      clusters.set(e.name, await this.loadCluster(e.name, clusterDir, problems, seenFiles));
    }
    for (const path of this.cache.keys()) if (!seenFiles.has(path)) this.cache.delete(path);
    for (const id of this.clusterCache.keys()) if (!clusters.has(id)) this.clusterCache.delete(id);
    return { clusters, problems };
  }

  private async loadCluster(cluster: ClusterId, clusterDir: string, problems: Problem[], seenFiles: Set<string>): Promise<LoadedCluster> {
    const inputs = emptyInputs();
    let offline = false;
    let names: string[];
    try {
      names = (await readdir(clusterDir, { withFileTypes: true })).filter((f) => f.isFile()).map((f) => f.name).sort();
    } catch (err) {
      problems.push({ severity: 'error', file: clusterDir, message: `cannot read directory: ${(err as Error).message}` });
      return { inputs, offline };
    }
    // With thousands of objects, assembling is not free: skip it when no file changed.
    const fingerprint = await this.fingerprint(clusterDir, names);
    const cached = this.clusterCache.get(cluster);
    if (cached !== undefined && cached.fingerprint === fingerprint) {
      for (const name of names) if (isManifest(name)) seenFiles.add(join(clusterDir, name));
      problems.push(...cached.problems);
      return cached.loaded;
    }
    const problemsBefore = problems.length;
    const namespaces = new Set<string>(BUILTIN_NAMESPACES);
    // Later files win on duplicates; remember where each object came from to say so.
    const origin = new Map<string, string>();
    const byKey = {
      services: new Map<string, ClusterInputs['services'][number]>(),
      endpointSlices: new Map<string, ClusterInputs['endpointSlices'][number]>(),
      serviceExports: new Map<string, ClusterInputs['serviceExports'][number]>(),
      vips: new Map<string, ClusterInputs['vips'][number]>(),
    };
    for (const name of names) {
      if (name === OFFLINE_MARKER) {
        offline = true;
        continue;
      }
      if (!isManifest(name)) continue;
      const path = join(clusterDir, name);
      seenFiles.add(path);
      const entry = await this.readFileCached(cluster, path);
      problems.push(...entry.problems);
      for (const doc of entry.documents) {
        const o = doc.object;
        const at = `${path}: document ${doc.document}`;
        const track = (key: string): void => {
          const prev = origin.get(key);
          if (prev !== undefined) {
            problems.push({ severity: 'warning', file: path, document: doc.document, object: doc.description, message: `duplicate of ${prev}; this one is used` });
          }
          origin.set(key, at);
        };
        switch (o.kind) {
          case 'Namespace':
            namespaces.add(o.name);
            break;
          case 'Service':
            namespaces.add(o.service.namespace);
            track(`Service/${refKey(o.service)}`);
            if (!o.service.headless && o.service.type !== 'ExternalName' && o.service.clusterIPs.length === 0) {
              problems.push({
                severity: 'warning',
                file: path,
                document: doc.document,
                object: doc.description,
                field: 'spec.clusterIP',
                message: 'spec.clusterIP: not set; no API server allocates one here, so an export of it stays Pending',
              });
            }
            byKey.services.set(refKey(o.service), o.service);
            break;
          case 'EndpointSlice':
            namespaces.add(o.slice.namespace);
            track(`EndpointSlice/${o.slice.namespace}/${o.slice.sliceName}`);
            byKey.endpointSlices.set(`${o.slice.namespace}/${o.slice.sliceName}`, o.slice);
            break;
          case 'ServiceExport':
            namespaces.add(o.serviceExport.namespace);
            track(`ServiceExport/${refKey(o.serviceExport)}`);
            byKey.serviceExports.set(refKey(o.serviceExport), o.serviceExport);
            break;
          case 'ServiceImport':
            namespaces.add(o.vip.namespace);
            track(`ServiceImport/${refKey(o.vip)}`);
            byKey.vips.set(refKey(o.vip), o.vip);
            break;
        }
      }
    }
    inputs.namespaces = [...namespaces].sort();
    inputs.services = [...byKey.services.values()];
    inputs.endpointSlices = [...byKey.endpointSlices.values()];
    inputs.serviceExports = [...byKey.serviceExports.values()];
    inputs.vips = [...byKey.vips.values()];
    const loaded = { inputs, offline };
    this.clusterCache.set(cluster, { fingerprint, loaded, problems: problems.slice(problemsBefore) });
    return loaded;
  }

  private async fingerprint(clusterDir: string, names: readonly string[]): Promise<string> {
    const parts: string[] = [];
    for (const name of names) {
      if (name === OFFLINE_MARKER) {
        parts.push(name);
        continue;
      }
      if (!isManifest(name)) continue;
      try {
        const info = await stat(join(clusterDir, name));
        parts.push(`${name}:${info.size}:${info.mtimeMs}`);
      } catch {
        parts.push(`${name}:gone`);
      }
    }
    return parts.join('\n');
  }

  private async readFileCached(cluster: ClusterId, path: string): Promise<FileEntry> {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      return { mtimeMs: 0, size: 0, documents: [], problems: [{ severity: 'error', file: path, message: `cannot read file: ${(err as Error).message}` }] };
    }
    const cached = this.cache.get(path);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return { mtimeMs: 0, size: 0, documents: [], problems: [{ severity: 'error', file: path, message: `cannot read file: ${(err as Error).message}` }] };
    }
    const entry = this.parseFile(cluster, path, text);
    this.cache.set(path, { ...entry, mtimeMs: info.mtimeMs, size: info.size });
    return entry;
  }

  private parseFile(cluster: ClusterId, path: string, text: string): FileEntry {
    const problems: Problem[] = [];
    const documents: ParsedDocument[] = [];
    const parsed = parseYamlDocuments(text);
    if (!parsed.ok) {
      problems.push({ severity: 'error', file: path, message: `${parsed.message}; file skipped` });
      return { mtimeMs: 0, size: 0, documents, problems };
    }
    const translate = (value: unknown, document: number, itemPrefix: string): void => {
      const result = translateObject(value, {
        defaultCreatedAt: (ns, name) => this.defaultCreatedAt(cluster, ns, name),
      });
      const object = `${itemPrefix}${result.description}`;
      if (result.status === 'ok') {
        documents.push({ document, description: object, object: result.object });
      } else if (result.status === 'ignored') {
        problems.push({ severity: 'warning', file: path, document, object, message: `${result.reason}; ignored` });
      } else {
        const first = result.errors[0];
        const problem: Problem = {
          severity: 'error',
          file: path,
          document,
          object,
          message: `${result.errors.map(formatFieldError).join('; ')}; object skipped`,
        };
        if (first !== undefined && first.path !== '') problem.field = first.path;
        problems.push(problem);
      }
    };
    for (const doc of parsed.documents) {
      const v = doc.value as { kind?: unknown; items?: unknown } | null;
      // `kind: List` (what `kubectl get -o yaml` prints) holds objects in `items`.
      if (v !== null && typeof v === 'object' && v.kind === 'List' && Array.isArray(v.items)) {
        v.items.forEach((item, i) => translate(item, doc.index, `items[${i}] `));
      } else {
        translate(doc.value, doc.index, '');
      }
    }
    return { mtimeMs: 0, size: 0, documents, problems };
  }
}
