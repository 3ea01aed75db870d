import type { KeyObject } from 'node:crypto';
import type { Field } from './encoder.js';
import { signLogon } from './logon-signature.js';
import { Tag } from './tags.js';

export interface LogonRequest {
  senderCompId: string;
  targetCompId: string;
  privateKey: KeyObject;
  msgSeqNum: number;
  /** The exact SendingTime text of the Logon: the signature covers it. */
  sendingTime: string;
  heartbeatIntervalS: number;
  /** ResetSeqNumFlag(141)=Y. */
  reset: boolean;
  /** ListenerSession(20126)=Y and SkipPendingExecReports(21011)=Y. */
  listener: boolean;
  /** MessageRetentionPeriod(20200) in hours (KalshiRT only). */
  messageRetentionHours: number | undefined;
  extraFields: readonly Field[];
}

/** The Logon body Kalshi expects (kalshi-fix-margin.md §2), RSA-PSS signature included. */
export function logonFields(request: LogonRequest): Field[] {
  const signature = signLogon(request.privateKey, {
    sendingTime: request.sendingTime,
    msgSeqNum: request.msgSeqNum,
    senderCompId: request.senderCompId,
    targetCompId: request.targetCompId,
  });
  const fields: Field[] = [
    [Tag.EncryptMethod, 0],
    [Tag.HeartBtInt, request.heartbeatIntervalS],
  ];
  if (request.reset) fields.push([Tag.ResetSeqNumFlag, 'Y']);
  fields.push([Tag.DefaultApplVerID, 9], [Tag.RawDataLength, signature.length], [Tag.RawData, signature]);
  if (request.listener) fields.push([Tag.ListenerSession, 'Y'], [Tag.SkipPendingExecReports, 'Y']);
  if (request.messageRetentionHours !== undefined)
    fields.push([Tag.MessageRetentionPeriod, request.messageRetentionHours]);
  fields.push(...request.extraFields);
  return fields;
}

/** The MsgSeqNum a Logout's Text says the exchange expects ("… expecting 39 but received 1"). */
export function expectedOutbound(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /MsgSeqNum too low, expecting (\d+)/i.exec(text);
  const value = match === null ? undefined : Number(match[1]);
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Kalshi keeps a dead connection for ~2 × HeartBtInt before it frees the key ("already exists"). */
export function saysSessionExists(text: string | undefined): boolean {
  return text !== undefined && /already exists/i.test(text);
}
