/** A problem reaching the source of `status` (a serve URL, a cluster, the broker): one line, exit code 1. */
export class StatusSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusSourceError';
  }
}
