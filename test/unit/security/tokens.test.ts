/**
 * Tokens are kept as SHA-256 digests and a presented token is compared with every one of
 * them in constant time; tokens from the environment are hashed when the config is loaded.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, mock, test } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { isBerthError } from '../../../src/errors.js';
import { bearerToken, sha256Hex, TokenTable } from '../../../src/security/tokens.js';

const tokens = ['alpha-token-0000000001', 'bravo-token-0000000002', 'charlie-token-000000003', 'delta-token-0000000004', 'echo-token-00000000005'];
const table = () => new TokenTable(tokens.map((t, i) => ({ name: `t${i}`, sha256: sha256Hex(t), scopes: i === 0 ? ['admin'] : ['infer'] })));

describe('API tokens', () => {
  test('sha256Hex is SHA-256 (FIPS 180-2 example "abc")', () => {
    // FIPS 180-2, Appendix B.1: SHA-256("abc").
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('lookup finds the token and nothing else', () => {
    const tt = table();
    assert.equal(tt.lookup(tokens[3]!)?.name, 't3');
    assert.deepEqual([...tt.lookup(tokens[0]!)!.scopes], ['admin']);
    assert.equal(tt.lookup(`${tokens[3]!}x`), undefined);
    assert.equal(tt.lookup(tokens[3]!.slice(0, -1)), undefined);
    assert.equal(tt.lookup(''), undefined);
  });

  test('constant-time comparison used: every digest is compared with timingSafeEqual, whichever token matches', (t) => {
    const tt = table();
    const spy = mock.method(crypto, 'timingSafeEqual');
    t.after(() => spy.mock.restore());
    for (const presented of [tokens[0]!, tokens[4]!, 'wrong', 'x'.repeat(500)]) {
      spy.mock.resetCalls();
      tt.lookup(presented);
      assert.equal(spy.mock.callCount(), tokens.length, `comparisons for ${presented.slice(0, 10)}`);
      // Digests, not tokens: always 32 bytes against 32, so the length of a guess tells nothing.
      for (const call of spy.mock.calls) assert.deepEqual(call.arguments.map((a) => (a as Buffer).length), [32, 32]);
    }
  });

  test('duplicate names or tokens are refused, naming the entry', () => {
    assert.throws(() => new TokenTable([{ name: 'a', sha256: sha256Hex('x'.repeat(20)), scopes: ['read'] }, { name: 'a', sha256: sha256Hex('y'.repeat(20)), scopes: ['read'] }]), /auth\.tokens\[1\]\.name: 'a'/);
    assert.throws(() => new TokenTable([{ name: 'a', sha256: sha256Hex('x'.repeat(20)), scopes: ['read'] }, { name: 'b', sha256: sha256Hex('x'.repeat(20)).toUpperCase(), scopes: ['read'] }]), /auth\.tokens\[1\]\.sha256/);
  });

  test('Authorization header parsing', () => {
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('Basic abc'), null);
    assert.equal(bearerToken('Bearer'), null);
    assert.equal(bearerToken('Bearer a b'), null);
  });
});

describe('tokens in the configuration', () => {
  const hex = sha256Hex('file-token-000000000001');

  test('BERTH_TOKEN_<NAME>=<scopes>:<token> is added to the file\'s tokens, as its hash', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'berth-tokens-')), 'berth.json');
    writeFileSync(file, JSON.stringify({ auth: { tokens: [{ name: 'file', sha256: hex, scopes: ['read'] }] } }));
    const c = loadConfig({ file, env: { BERTH_TOKEN_CI_RUNNER: 'infer,feedback:env-token-0000000000001' } });
    assert.deepEqual(c.auth.tokens.map((t) => t.name), ['file', 'ci-runner']);
    const env = c.auth.tokens[1]!;
    assert.deepEqual(env.scopes, ['infer', 'feedback']);
    assert.equal(env.sha256, sha256Hex('env-token-0000000000001'));
    assert.ok(!JSON.stringify(c).includes('env-token-0000000000001'), 'the plain token is not kept');
  });

  test('BERTH_TOKENS gives a hashed list as JSON', () => {
    const c = loadConfig({ env: { BERTH_TOKENS: JSON.stringify([{ name: 'dash', sha256: hex, scopes: ['read'] }]) } });
    assert.equal(c.auth.tokens[0]!.name, 'dash');
  });

  const message = (env: Record<string, string>): string => {
    try {
      loadConfig({ env });
    } catch (e) {
      assert.ok(isBerthError(e, 'BERTH_ERR_CONFIG'), String(e));
      return e.message;
    }
    assert.fail('expected BERTH_ERR_CONFIG');
  };

  test('bad token settings name the variable or field and say what is expected', () => {
    assert.match(message({ BERTH_TOKEN_X: 'sometokenwithoutscopes' }), /BERTH_TOKEN_X: expected <scopes>:<token>/);
    assert.match(message({ BERTH_TOKEN_X: 'write:0123456789abcdef0123' }), /BERTH_TOKEN_X: scopes must be .*infer, feedback, read, admin, got 'write'/);
    assert.match(message({ BERTH_TOKEN_X: 'read:short' }), /BERTH_TOKEN_X: the token must have at least 16 characters, got 5/);
    assert.match(message({ BERTH_TOKENS: '[{' }), /BERTH_TOKENS: expected JSON/);
    assert.match(message({ BERTH_TOKENS: JSON.stringify([{ name: 'a', sha256: 'abc', scopes: ['read'] }]) }), /auth\.tokens\[0\]\.sha256/);
    assert.match(message({ BERTH_TOKENS: JSON.stringify([{ name: 'a', sha256: hex, scopes: [] }]) }), /auth\.tokens\[0\]\.scopes/);
  });
});
