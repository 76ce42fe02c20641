// Stands in for ajv in the bundle: conf imports it for its `schema` option, which the store never
// passes (services/store.ts checks the file's shape itself). Evaluating ajv cost ~0.1 s per start.
export class Ajv2020 {
	constructor() {
		throw new Error('conf was given a schema, but ajv is not bundled (see rolldown.config.mjs)');
	}
}

export default {};
