/** FIX tag numbers the listener reads or writes. Numeric constants keep the hot path free of strings. */
export const Tag = {
  BeginString: 8,
  BodyLength: 9,
  CheckSum: 10,
  MsgType: 35,
  SenderCompID: 49,
  TargetCompID: 56,
  SenderSubID: 50,
  MsgSeqNum: 34,
  SendingTime: 52,
  PossDupFlag: 43,
  PossResend: 97,
  OrigSendingTime: 122,
  BeginSeqNo: 7,
  EndSeqNo: 16,
  NewSeqNo: 36,
  GapFillFlag: 123,
  RefSeqNum: 45,
  Text: 58,
  TestReqID: 112,
  EncryptMethod: 98,
  HeartBtInt: 108,
  ResetSeqNumFlag: 141,
  RawDataLength: 95,
  RawData: 96,
  DefaultApplVerID: 1137,
  RefTagID: 371,
  RefMsgType: 372,
  SessionRejectReason: 373,
  BusinessRejectRefID: 379,
  BusinessRejectReason: 380,
  // Kalshi session flags
  CancelOrdersOnDisconnect: 8013,
  ListenerSession: 20126,
  MessageRetentionPeriod: 20200,
  UseDollars: 21005,
  SkipPendingExecReports: 21011,
  PreserveOriginalOrderQty: 21008,
  UseExpiredOrdStatus: 21012,
  // ExecutionReport
  AvgPx: 6,
  ClOrdID: 11,
  CumQty: 14,
  ExecID: 17,
  LastMkt: 30,
  LastPx: 31,
  LastQty: 32,
  OrderID: 37,
  OrderQty: 38,
  OrdStatus: 39,
  OrigClOrdID: 41,
  Price: 44,
  Side: 54,
  Symbol: 55,
  TimeInForce: 59,
  TransactTime: 60,
  AllocAccount: 79,
  OrdRejReason: 103,
  ExpireTime: 126,
  NoMiscFees: 136,
  MiscFeeAmt: 137,
  MiscFeeCurr: 138,
  MiscFeeType: 139,
  ExecType: 150,
  LeavesQty: 151,
  ExecRestatementReason: 378,
  NoPartyIDs: 453,
  PartyID: 448,
  PartyIDSource: 447,
  PartyRole: 452,
  LongQty: 704,
  ShortQty: 705,
  ClearingBusinessDate: 715,
  TrdMatchID: 880,
  MiscFeeBasis: 891,
  AggressorIndicator: 1057,
  NoCollateralAmountChanges: 1703,
  CollateralAmountChange: 1704,
  CollateralAmountType: 1705,
  SelfTradePreventionType: 2964,
} as const;

export const MsgType = {
  Heartbeat: '0',
  TestRequest: '1',
  ResendRequest: '2',
  Reject: '3',
  SequenceReset: '4',
  Logout: '5',
  Logon: 'A',
  ExecutionReport: '8',
  BusinessMessageReject: 'j',
} as const;

/** Session-level (admin) message types: the only ones a listener may ever send. */
export const ADMIN_MSG_TYPES: ReadonlySet<string> = new Set(['0', '1', '2', '3', '4', '5', 'A']);

export const BEGIN_STRING = 'FIXT.1.1';
export const SOH = 0x01;

/**
 * Length tag → the data tag it sizes (whose value may hold SOH), or -1. A switch: a Map was hot
 * in the decoder, which asks this of every field.
 */
export function dataTagFor(lengthTag: number): number {
  switch (lengthTag) {
    case Tag.RawDataLength:
      return Tag.RawData;
    case 90: // SecureDataLen → SecureData
      return 91;
    case 93: // SignatureLength → Signature
      return 89;
    case 212: // XmlDataLen → XmlData
      return 213;
    default:
      return -1;
  }
}

/** A data field's value is sized by the length field before it and may contain SOH. */
export function isDataTag(tag: number): boolean {
  return tag === Tag.RawData || tag === 91 || tag === 89 || tag === 213;
}
