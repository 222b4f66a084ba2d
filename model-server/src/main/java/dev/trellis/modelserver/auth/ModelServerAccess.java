package dev.trellis.modelserver.auth;

import dev.trellis.api.v1.ReplicaMonitoringGrpc;
import dev.trellis.common.auth.Access;
import dev.trellis.common.auth.AccessPolicy;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import io.grpc.health.v1.HealthGrpc;

/**
 * Who may call what on the model-server, deny by default: health, reflection and the read-only
 * Open Inference Protocol methods are open; ModelInfer and ReplicaMonitoring/GetProfile need the
 * inference token when one is configured; the repository mutations, and any method not listed here, need the admin token.
 */
public final class ModelServerAccess {
    public static final AccessPolicy POLICY = AccessPolicy.builder()
            .service(HealthGrpc.SERVICE_NAME, Access.OPEN)
            .service("grpc.reflection.v1.ServerReflection", Access.OPEN)
            .service("grpc.reflection.v1alpha.ServerReflection", Access.OPEN)
            .methods(
                    Access.OPEN,
                    GRPCInferenceServiceGrpc.getServerLiveMethod(),
                    GRPCInferenceServiceGrpc.getServerReadyMethod(),
                    GRPCInferenceServiceGrpc.getModelReadyMethod(),
                    GRPCInferenceServiceGrpc.getServerMetadataMethod(),
                    GRPCInferenceServiceGrpc.getModelMetadataMethod(),
                    GRPCInferenceServiceGrpc.getModelConfigMethod(),
                    GRPCInferenceServiceGrpc.getModelStatisticsMethod(),
                    GRPCInferenceServiceGrpc.getRepositoryIndexMethod())
            .method(GRPCInferenceServiceGrpc.getModelInferMethod(), Access.CLIENT)
            // live profiles hold samples of scored inputs: whoever may score may read them
            .method(ReplicaMonitoringGrpc.getGetProfileMethod(), Access.CLIENT)
            .methods(
                    Access.ADMIN,
                    GRPCInferenceServiceGrpc.getRepositoryModelLoadMethod(),
                    GRPCInferenceServiceGrpc.getRepositoryModelUnloadMethod())
            .build();

    private ModelServerAccess() {}
}
