import { describe, expect, it } from 'vitest';
import { controlAccess } from '../../src/http/control-access.js';

const TOKEN = 'access-token:with-a-colon-0123';
const basic = (userAndPassword: string) => `Basic ${Buffer.from(userAndPassword).toString('base64')}`;

describe('controlAccess', () => {
  it.each([
    ['Bearer', `Bearer ${TOKEN}`, 'bearer'],
    ['a lower-case scheme (schemes are case-insensitive)', `bearer ${TOKEN}`, 'bearer'],
    ['Basic with a user', basic(`ops:${TOKEN}`), 'basic'],
    ['Basic with an empty user', basic(`:${TOKEN}`), 'basic'],
    ['BASIC in capitals', basic(`ops:${TOKEN}`).replace('Basic', 'BASIC'), 'basic'],
  ])('accepts %s', (_, header, credential) => {
    // Prepare
    const check = controlAccess(TOKEN);
    // Act + Assess
    expect(check(header)).toBe(credential);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a scheme alone', 'Bearer'],
    ['a longer token', `Bearer ${TOKEN}0`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, 12)}`],
    ['Basic without a colon', basic(TOKEN.replaceAll(':', ''))],
    ['Basic of the token alone (its own colon makes a user and a wrong password)', basic(TOKEN)],
    ['Basic that is not base64', 'Basic %%%'],
    ['another scheme', `Digest ${TOKEN}`],
  ])('refuses %s', (_, header) => {
    // Prepare
    const check = controlAccess(TOKEN);
    // Act + Assess
    expect(check(header)).toBeUndefined();
  });
});
