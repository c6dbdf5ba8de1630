/**
 * @module decision/ids
 * The id a decision is logged under, which feedback later names. A client's request id
 * cannot be trusted as that key when several clients share a server: anyone could log a
 * decision under an id another client will use later, so the real decision is refused as a
 * duplicate and its label lands on the impostor's. Two modes (`monitoring.decisionIds`):
 *
 * - `client` (default): the client's id, scoped by the calling token when API tokens are
 *   configured (`<token name>:<id>`), so a client can only claim ids in its own namespace.
 *   Without tokens (a loopback-only server) the id is used as sent.
 * - `server`: always an id the server issues (a UUIDv7 with 74 random bits): nobody can
 *   know it before the response, which carries it. For when labels feed retraining.
 *
 * Either way the response says which id to label (`parameters.decision_id` in V2, and the
 * `Berth-Decision-Id` header), and a request of n > 1 rows makes n decisions `<id>/<row>`.
 */
import { newRequestId } from '../inference/request-id.js';

export type DecisionIdMode = 'client' | 'server';

/** The header that carries the decision id on every answered inference. */
export const DECISION_ID_HEADER = 'Berth-Decision-Id';

/**
 * The decision id for a request: `requestId` is the protocol id (the client's, or one the
 * server made when none was sent); `clientSent` whether the client chose it.
 */
export function decisionIdFor(mode: DecisionIdMode, requestId: string, clientSent: boolean, principal: string | undefined): string {
  if (mode === 'server') return clientSent ? newRequestId() : requestId;
  return clientSent && principal !== undefined ? `${principal}:${requestId}` : requestId;
}
