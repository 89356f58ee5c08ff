/** The largest request body the server reads (1 MiB): its own port's and the gateway workers'. */
export const BODY_LIMIT = 1024 * 1024;
