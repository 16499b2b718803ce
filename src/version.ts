declare const __SIPREG_VERSION__: string | undefined;
declare const __SIPREG_COMMIT__: string | undefined;

/** Set by the bundler (image/build-binary.mjs); from source (tests) they read as 'dev'. */
export const VERSION = typeof __SIPREG_VERSION__ === 'string' ? __SIPREG_VERSION__ : 'dev';
export const COMMIT = typeof __SIPREG_COMMIT__ === 'string' ? __SIPREG_COMMIT__ : 'unknown';

export function versionLine(): string {
  return `sipreg ${VERSION} (commit ${COMMIT}) node ${process.version} ${process.platform}-${process.arch}`;
}
