/** The server version reported by `GET /health` and in webhook `User-Agent` headers. */
export const SERVER_VERSION = '0.1.0';
