// Test harness API: real etcd + kube-apiserver control planes and a real CoreDNS.
// See test/harness/README.md. Vitest helpers are in ./vitest.ts (kept apart so the CLI does not load vitest).
export { ensureBinaries, ensureBinary, buildScript, type Binaries, type EnsureBinariesOptions, type PeerTool } from './binaries.ts';
export {
  startClusters,
  stopClustersInDir,
  clusterStatus,
  attachClusterSet,
  attachToDir,
  applyProjectManifests,
  type Cluster,
  type ClusterInfo,
  type ClusterRole,
  type ClusterSet,
  type ClusterSetInfo,
  type HarnessStatus,
  type StartClustersOptions,
  type StaticTokenUser,
} from './clusters.ts';
export { startCoreDNS, type CoreDNSInstance, type CoreDNSPorts, type StartCoreDNSOptions } from './coredns.ts';
export { kubeConfigForToken, loadKubeConfigFile } from './kubeconfig.ts';
export {
  applyCrds,
  applyObjects,
  describeError,
  loadKustomization,
  loadManifestFile,
  manifestPart,
  manifestsDir,
  waitForCrds,
  waitForCrdStorage,
} from './manifests.ts';
export { freeDnsPort, freePort } from './net.ts';
export { serviceAccountToken, type ServiceAccountTokenOptions } from './tokens.ts';
