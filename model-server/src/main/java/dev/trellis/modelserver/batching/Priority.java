package dev.trellis.modelserver.batching;

/**
 * A request's priority, from the Open Inference Protocol's {@code priority} parameter as Triton
 * reads it (lower number = higher priority; 0 = the default). Priority can only demote: a low
 * priority request goes to the bulk lane whatever its size, a high one still goes there when it
 * is large.
 */
public enum Priority {
    /** 0 or absent: the lane follows from the request's size and whether it explains. */
    DEFAULT,
    /** 1: interactive when small (the same as the default). */
    HIGH,
    /** 2: bulk work, never ahead of interactive rows. */
    LOW,
}
