package dev.trellis.common.auth;

/** What a caller must present to call a method. */
public enum Access {
    /** Nothing: health, reflection, reads. */
    OPEN,
    /**
     * The client token when one is configured (the router's scoring token, the model-server's
     * inference token); the admin token is accepted too. Open when no client token is configured.
     */
    CLIENT,
    /** The admin token; refused outright when none is configured. What every unlisted method gets. */
    ADMIN,
}
