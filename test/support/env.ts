/** Real servers for integration tests: .ci/run sets these; without them the PGlite tiers still run. */
export const PG_URL = process.env.CUTLINE_TEST_PG_URL;
export const MYSQL_URL = process.env.CUTLINE_TEST_MYSQL_URL;
