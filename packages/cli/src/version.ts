/** Ferry's version, printed by `ferry --version` and reported by the API's GET /v1/node. */
export const VERSION = '0.1.0'
