// Shared prelude of the AWS SDK for JavaScript v3 test scripts: clients pointed at the region
// under test. The Rust harness (crates/sixfold/tests/common/clients.rs) runs a script with
// SIXFOLD_ENDPOINT, the region's key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the script's
// arguments as JSON in SIXFOLD_ARGS; the script prints ONE JSON document on stdout.

export const ARGS = JSON.parse(process.env.SIXFOLD_ARGS || "{}");

/** A client of class `Ctor` (EC2Client, EKSClient, IAMClient, STSClient) against the region. */
export function client(Ctor) {
  return new Ctor({
    endpoint: process.env.SIXFOLD_ENDPOINT,
    region: process.env.AWS_REGION || "us-east-1",
    maxAttempts: 1,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    },
  });
}

/** Run one call; a service error becomes {error: code, message} instead of throwing. */
export async function attempt(promise) {
  try {
    return await promise;
  } catch (e) {
    if (e && e.$metadata !== undefined) {
      return { error: e.name || e.Code, message: e.message };
    }
    throw e;
  }
}

/** Drop $metadata (request ids differ per client) recursively, for comparisons. */
export function strip(v) {
  if (Array.isArray(v)) return v.map(strip);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) if (k !== "$metadata") out[k] = strip(x);
    return out;
  }
  return v;
}

/** Print the script's one JSON result. */
export function emit(result) {
  process.stdout.write(JSON.stringify(strip(result)) + "\n");
}
