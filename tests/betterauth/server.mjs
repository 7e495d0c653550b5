// A real Better Auth server for tests/integration/test_better_auth.py: in-memory users and sessions,
// email + password sign-up, and the jwt() plugin whose EdDSA tokens taskchat verifies via /api/auth/jwks.
// Env: PORT, BASE_URL (default http://127.0.0.1:$PORT), JWT_ISSUER and JWT_AUDIENCE (default BASE_URL,
// as in Better Auth itself), BETTER_AUTH_SECRET (a fixed test secret if unset).
import { createServer } from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const port = Number(process.env.PORT ?? 3005);
const baseURL = process.env.BASE_URL ?? `http://127.0.0.1:${port}`;

const auth = betterAuth({
  baseURL,
  secret: process.env.BETTER_AUTH_SECRET ?? "taskchat-test-secret-not-for-production-0123456789",
  // The memory adapter only writes to tables that exist.
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  // On by default when NODE_ENV=production (3 sign-ups per 10 s); the tests sign up several users quickly.
  rateLimit: { enabled: false },
  plugins: [
    jwt({
      jwt: {
        ...(process.env.JWT_ISSUER ? { issuer: process.env.JWT_ISSUER } : {}),
        ...(process.env.JWT_AUDIENCE ? { audience: process.env.JWT_AUDIENCE } : {}),
      },
    }),
  ],
});

const server = createServer(toNodeHandler(auth));
server.listen(port, "127.0.0.1", () => console.log(`better-auth listening on ${baseURL}`));
// Everything lives in memory, so there is nothing to flush: exit at once, even with open keep-alive sockets.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
