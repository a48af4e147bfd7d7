// The error every model loader throws for an artifact that cannot be served: the message names the
// file and what is wrong with it.

export class ArtifactError extends Error {
  override name = 'ArtifactError';
}
