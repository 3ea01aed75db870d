import { createHash, timingSafeEqual } from 'node:crypto';

/** How a request proved it holds CONTROL_TOKEN. */
export type Credential = 'bearer' | 'basic';

/** The realm both challenges name, so a browser keeps one login for the whole control plane. */
export const REALM = 'kalshi-fix-listener';

/**
 * Reads an Authorization header against CONTROL_TOKEN: `Bearer <token>` (scripts, curl,
 * Prometheus), or HTTP Basic with any user and the token as password (a browser, which prompts on
 * a Basic challenge and resends the login by itself). Undefined when the header proves nothing.
 * Tokens are compared as SHA-256 digests with timingSafeEqual: constant time, and equal lengths
 * whatever was sent, so neither the token's content nor its length leaks through timing.
 */
export function controlAccess(token: string): (authorization: string | undefined) => Credential | undefined {
  const expected = digest(token);
  const matches = (presented: string) => timingSafeEqual(digest(presented), expected);
  return (authorization) => {
    const [, scheme, value] = /^(\w+) +(.+)$/.exec(authorization ?? '') ?? [];
    if (value === undefined) return undefined;
    switch (scheme!.toLowerCase()) {
      case 'bearer':
        return matches(value) ? 'bearer' : undefined;
      case 'basic': {
        // RFC 7617: base64 of `user:password`; the user may be anything, even empty.
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        return colon >= 0 && matches(decoded.slice(colon + 1)) ? 'basic' : undefined;
      }
      default:
        return undefined;
    }
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
