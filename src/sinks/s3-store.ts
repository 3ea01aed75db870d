import { PutObjectCommand, S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ListenerError } from '../core/errors.js';
import type { ObjectStore } from './types.js';

/**
 * Refusals about this object itself, which no retry can change: the archive writer parks the object
 * in the dead letters and goes on. Everything else (throttling, 5xx, access denied, a KMS key or
 * bucket policy problem) concerns every object alike and is retried until it is fixed, with the
 * archive lagging and the alarm firing: parking on those would empty the archive into the spool.
 */
const REFUSES_THE_OBJECT: ReadonlySet<string> = new Set(['EntityTooLarge', 'KeyTooLongError', 'MetadataTooLarge']);

/**
 * The archive in S3. Writes use `If-None-Match: *` (S3 conditional writes): a retry of an object
 * that already landed is answered 412 and counts as done. Stores that ignore the header simply
 * overwrite the same key with the same bytes.
 */
export class S3Store implements ObjectStore {
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: {
    bucket: string;
    prefix: string;
    client?: S3Client;
    clientConfig?: S3ClientConfig;
    /** Connect and socket-idle limits (default 5 s and 60 s). */
    timeouts?: { connectMs?: number; idleMs?: number };
  }) {
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.location = `s3://${options.bucket}/${options.prefix}`;
    // Path-style only when an endpoint override is set (S3-compatible servers on loopback).
    this.#client =
      options.client ??
      new S3Client({
        forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined,
        // A hung PUT must fail and be retried, not stall the archive: the socket may idle this long
        // (an idle limit, not a total one: a 64 MiB object on a slow link may take longer).
        requestHandler: {
          connectionTimeout: options.timeouts?.connectMs ?? 5_000,
          socketTimeout: options.timeouts?.idleMs ?? 60_000,
        },
        ...options.clientConfig,
      });
  }

  async putIfAbsent(
    key: string,
    body: Buffer,
    options: { contentType: string; contentEncoding?: string },
  ): Promise<'created' | 'exists'> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: `${this.#prefix}${key}`,
          Body: body,
          ContentType: options.contentType,
          ...(options.contentEncoding === undefined ? {} : { ContentEncoding: options.contentEncoding }),
          IfNoneMatch: '*',
        }),
      );
      return 'created';
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.$metadata.httpStatusCode === 412 || error.name === 'PreconditionFailed')
      )
        return 'exists';
      const name = (error as { name?: string }).name ?? 'Error';
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new ListenerError(
        REFUSES_THE_OBJECT.has(name) ? 'ERR_S3_OBJECT_REFUSED' : 'ERR_S3_PUT',
        `S3 PutObject ${this.#prefix}${key} failed: ${name}: ${(error as Error).message}`,
        {
          cause: error,
          details: { awsCode: name, httpStatus: status ?? null, key: `${this.#prefix}${key}` },
        },
      );
    }
  }
}
