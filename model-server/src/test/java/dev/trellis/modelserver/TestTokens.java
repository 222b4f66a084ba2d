package dev.trellis.modelserver;

import dev.trellis.common.auth.BearerAuthInterceptor;
import io.grpc.Metadata;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;

/** Bearer tokens of the test servers, and stubs that present them. */
public final class TestTokens {
    public static final String ADMIN = "test-admin-token";
    public static final String INFERENCE = "test-inference-token";

    private TestTokens() {}

    /** The stub presenting the admin token. */
    public static <S extends AbstractStub<S>> S admin(S stub) {
        return bearer(stub, ADMIN);
    }

    /** The stub presenting {@code authorization: Bearer <token>}. */
    public static <S extends AbstractStub<S>> S bearer(S stub, String token) {
        Metadata headers = new Metadata();
        headers.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
}
