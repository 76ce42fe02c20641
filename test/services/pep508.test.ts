import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {checkRequirement, splitRequirements} from '../../source/services/pep508.js';
import {validatePackage} from '../../source/services/imagespec.js';

// Provenance: each string was given to packaging 23.0 (Debian bookworm's python3-packaging,
// /usr/bin/python3) as `packaging.requirements.Requirement(s)`; ACCEPTED parsed, REJECTED raised
// InvalidRequirement. pip 23's vendored packaging (21.3) still takes legacy specifiers such as
// ">=1.0garbage"; packaging 22+ and uv do not, so neither do we.
const ACCEPTED = [
	'pandas',
	'pandas>=1,<2',
	'pandas[sql,excel]>=2.2',
	'pandas [sql] (>=2.2)',
	"Pandas >= 2.2 ; python_version >= '3.10'",
	'pandas==2.2.*',
	'name @ https://example.com/x.whl',
	"name@https://example.com/x.whl ; python_version<'3.12'",
	'torch==2.3.0+cpu',
	'a_b.c-d',
	"pandas; python_version >= '3' and (os_name == 'posix' or sys_platform == 'linux')",
	'x===foo',
	'x ~= 1.0',
	'x!=1.0,',
	'pandas(>=1)',
	"pandas; extra == 'x'",
	"pandas ; 'linux' in sys_platform",
	"pandas; sys_platform not in 'win32'",
	"numpy>=1.26; python_version<'3.13'",
	'union',
	'flytekit==1.16.24',
	'x==1.0.post1.dev2',
	'x==1!2.0',
	'x == 1.0 , < 2',
	'pandas[]',
	"x >= 1.0 ; os.name == 'posix'",
	'x==1.0a1',
	'x~=1.0.0',
	'x!=1.*',
	'x @ file:///tmp/x.whl',
	'x [ a , b ] >= 1',
	'x<2,>=1',
];
const REJECTED = [
	'pandas=1.0',
	'pan das',
	'pandas~=1',
	'pandas>=1.0garbage',
	'pandas; rm -rf /',
	'pandas>>1.0',
	'pandas>=2.2.*',
	"name @ https://example.com/x.whl; os_name=='a'",
	'torch>=2.3.0+cpu',
	'-e .',
	'pandas;',
	'pandas; python_version',
	"pandas; foo == 'x'",
	'pandas[',
	'pandas[a b]',
	'x>=1,,<2',
	'_x',
	'x-',
	'x<=1.0+local',
	'pandas>=1.0; python_version >= "3.10" or',
	"pandas; (python_version >= '3'",
	'x>1.*',
	'x[a,]',
];

describe('checkRequirement: PEP 508 as packaging reads it', () => {
	it.each(ACCEPTED)('accepts %s', requirement => {
		expect(checkRequirement(requirement)).toBeUndefined();
	});

	it.each(REJECTED)('rejects %s', requirement => {
		expect(checkRequirement(requirement)).toMatch(/\w/);
	});

	it('says what is wrong in words a person can act on', () => {
		expect(checkRequirement('pandas=1.0')).toContain('use ==');
		expect(checkRequirement('pandas~=1')).toContain('two version parts');
		expect(checkRequirement('pandas>=1.0garbage')).toContain('PEP 440');
		expect(checkRequirement('pandas; rm -rf /')).toContain('"rm"');
		expect(checkRequirement('pan das')).toContain('"das"');
	});

	// The live reference, when this machine has it (CI installs Debian's python3-packaging).
	const python = '/usr/bin/python3';
	const hasPackaging =
		existsSync(python) &&
		execFileSync(python, ['-c', 'import packaging, sys; sys.stdout.write(packaging.__version__)'], {
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'ignore'],
		}).split('.')[0]! >= '22';
	it.skipIf(!hasPackaging && !process.env.CI)('agrees with the installed packaging on every vector', () => {
		const script =
			'import json,sys\nfrom packaging.requirements import Requirement\nout=[]\nfor s in json.load(sys.stdin):\n' +
			'    try:\n        Requirement(s); out.append(True)\n    except Exception:\n        out.append(False)\nprint(json.dumps(out))';
		const all = [...ACCEPTED, ...REJECTED];
		const verdicts = JSON.parse(execFileSync(python, ['-c', script], {input: JSON.stringify(all), encoding: 'utf8'})) as boolean[];
		expect(all.map(requirement => checkRequirement(requirement) === undefined)).toEqual(verdicts);
	});
});

describe('validatePackage', () => {
	it('also takes a direct URL without a name, as pip and uv do', () => {
		expect(validatePackage('git+https://github.com/org/repo.git@main')).toBeUndefined();
		expect(validatePackage('pandas>>1.0')).toMatch(/PEP 440/);
	});
});

describe('splitRequirements', () => {
	it('splits a list flag only where a new requirement starts', () => {
		expect(splitRequirements('pandas>=1,<2, numpy')).toEqual(['pandas>=1,<2', 'numpy']);
		expect(splitRequirements('pandas[sql,excel]>=2,scipy')).toEqual(['pandas[sql,excel]>=2', 'scipy']);
		expect(splitRequirements(' a , , b ')).toEqual(['a', 'b']);
		expect(splitRequirements('x >= 1 , < 2')).toEqual(['x >= 1 , < 2']);
	});
});
