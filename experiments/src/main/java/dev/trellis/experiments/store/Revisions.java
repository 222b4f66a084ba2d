package dev.trellis.experiments.store;

import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import java.util.List;
import java.util.Optional;

/**
 * The one optimistic-concurrency rule of every revisioned definition (experiments, rollouts, and
 * any definition-like table a store adds): the caller names the revision it read, 0 to create.
 * Stores check it inside their write transaction; the manager checks it first to answer
 * {@code validate_only} requests the same way.
 */
public final class Revisions {
    private Revisions() {}

    /**
     * @param what the definition in words, e.g. {@code experiment 'leads-v2'}
     * @param current the stored revision, empty when nothing is stored
     * @param expected the revision the caller read; 0 to create
     * @throws ExperimentsException INVALID_DEFINITION (negative), ALREADY_EXISTS, NOT_FOUND or STALE_REVISION
     */
    public static void check(String what, Optional<Long> current, long expected) {
        if (expected < 0) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "expected_revision must not be negative",
                    List.of(new FieldViolation("expected_revision", "must not be negative")),
                    null);
        }
        if (expected == 0 && current.isPresent()) {
            throw new ExperimentsException(
                    ErrorCode.ALREADY_EXISTS,
                    what + " already exists at revision " + current.get() + "; pass it as expected_revision to update");
        }
        if (expected > 0 && current.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.NOT_FOUND, what + " does not exist; use expected_revision 0 to create it");
        }
        if (expected > 0 && current.get() != expected) {
            throw new ExperimentsException(
                    ErrorCode.STALE_REVISION,
                    what + " is at revision " + current.get() + ", not the expected " + expected
                            + "; read it again and retry");
        }
    }
}
