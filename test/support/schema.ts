import {readFileSync} from 'node:fs';
import {Ajv} from 'ajv';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../../schema/${name}`, import.meta.url), 'utf8')) as object;
const ajv = new Ajv({allErrors: true, strict: true});
ajv.addSchema(load('doctor.schema.json'), 'doctor.schema.json');
ajv.addSchema(load('plan.schema.json'), 'plan.schema.json');
ajv.addSchema(load('result.schema.json'), 'result.schema.json');
ajv.addSchema(load('status.schema.json'), 'status.schema.json');
ajv.addSchema(load('build.schema.json'), 'build.schema.json');

/** The JSON Schema errors of `document` against the published schema (empty when valid). */
export const schemaErrors = (schema: 'result.schema.json' | 'doctor.schema.json' | 'status.schema.json' | 'build.schema.json', document: unknown): string[] => {
	const validate = ajv.getSchema(schema)!;
	return validate(document) ? [] : (validate.errors ?? []).map(error => `${error.instancePath} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
};
