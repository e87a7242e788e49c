/** Flags shared by every command that talks to a Kubernetes API: which kubeconfig context to use. */
import type { FlagSpec } from './flags.ts';

export const CONTEXT_FLAG: FlagSpec = {
  name: 'context',
  kind: 'string',
  env: 'CLUSTERSET_DNS_CONTEXT',
  metavar: 'NAME',
  help: 'kubeconfig context to use (default: the current context)',
};

export const BROKER_CONTEXT_FLAG: FlagSpec = {
  name: 'broker-context',
  kind: 'string',
  env: 'CLUSTERSET_DNS_BROKER_CONTEXT',
  metavar: 'NAME',
  help: 'kubeconfig context of the broker; without --broker-kubeconfig it is looked up like --context ($KUBECONFIG, ~/.kube/config)',
};

/** How a command finds one API's credentials (resolved later, as kubectl does). */
export interface KubeCredentialsConfig {
  kubeconfig?: string;
  context?: string;
}

/** The kubeconfig lookup order, for --help texts. */
export const KUBECONFIG_LOOKUP = 'Credentials are found as kubectl finds them: --kubeconfig, else $KUBECONFIG (files merged), else ~/.kube/config, else the pod\'s service account (only inside a pod); --context picks a context.';
