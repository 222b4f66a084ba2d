package dev.trellis.ensemble.model;

/** A native library failed while training or scoring a base model. */
public final class ModelException extends RuntimeException {
    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }

    public ModelException(String message) {
        super(message);
    }
}
