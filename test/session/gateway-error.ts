/**
 * What a rule threw, as a client would see it: the code and the message. Anything thrown that
 * is not a GatewayError is re-thrown (it would reach a client as INTERNAL), and a rule that
 * throws nothing fails the test.
 */
import { GatewayError, type ErrorCode } from '../../src/errors';

export function gatewayErrorOf(run: () => unknown): { code: ErrorCode; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof GatewayError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a GatewayError; nothing was thrown');
}
