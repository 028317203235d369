// Validates an OpenAPI document (a file, or "-" for standard input) against
// the OpenAPI 3.x JSON schemas, then resolves every $ref in it.  Prints
// "valid" and exits 0, or prints the errors and exits 1.
//
//   node test/openapi/validate.mjs doc.json
//
// The validator is @seriousme/openapi-schema-validator, installed in
// test/openapi/node_modules by scripts/install-deps.sh (npm ci).
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs <file.json | ->");
  process.exit(2);
}

const doc = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);

if (!res.valid) {
  console.log(JSON.stringify(res.errors, null, 1));
  process.exit(1);
}

try {
  validator.resolveRefs();
} catch (e) {
  console.log("unresolvable reference: " + e.message);
  process.exit(1);
}

console.log("valid OpenAPI " + validator.version);
