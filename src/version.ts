import pkg from '../package.json' with { type: 'json' };

/** The service's own version, from package.json. */
export const SERVICE_VERSION: string = pkg.version;
export const SERVICE_NAME: string = pkg.name;
