/** Version of this package, written into every manifest's `producer` field. */
export const RUNTIME_VERSION = '0.1.0';
