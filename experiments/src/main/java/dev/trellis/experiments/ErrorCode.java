package dev.trellis.experiments;

/**
 * Why an experiments operation failed. The router maps each code to a gRPC status in one place:
 * INVALID_DEFINITION → INVALID_ARGUMENT, NOT_FOUND → NOT_FOUND, STALE_REVISION → ABORTED,
 * ILLEGAL_TRANSITION → FAILED_PRECONDITION, ALREADY_EXISTS → ALREADY_EXISTS,
 * STORE_FAILURE → UNAVAILABLE.
 */
public enum ErrorCode {
    /** The definition breaks a rule; {@link ExperimentsException#violations()} says which fields. */
    INVALID_DEFINITION,
    /** No experiment or rollout with that key/model. */
    NOT_FOUND,
    /** The caller's expected revision is not the stored one (optimistic concurrency). */
    STALE_REVISION,
    /** The change is not allowed in the current state (status transition, active rollout, ...). */
    ILLEGAL_TRANSITION,
    /** Create (expected revision 0) of a key that already exists. */
    ALREADY_EXISTS,
    /** The store could not read or write. */
    STORE_FAILURE,
}
