package dev.trellis.common.testing;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Any;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.SourceCodeInfo;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What grpcurl does with a server it has no .proto files for: asks the reflection service for the
 * file of a symbol, builds descriptors from what comes back, and decodes messages (also the
 * {@code grpc-status-details-bin} of an error) with those descriptors only, never with the
 * generated classes.
 */
public final class ReflectionClient {
    private final Channel channel;
    private final Map<String, FileDescriptorProto> files = new HashMap<>();
    private final Map<String, FileDescriptor> built = new HashMap<>();

    public ReflectionClient(Channel channel) {
        this.channel = requireNonNull(channel, "channel is null");
    }

    /** The reflection service's list of services. */
    public List<String> listServices() throws Exception {
        ServerReflectionResponse response =
                ask(ServerReflectionRequest.newBuilder().setListServices("").build());
        return response.getListServicesResponse().getServiceList().stream()
                .map(s -> s.getName())
                .toList();
    }

    /** The descriptor of a message type, as reflection describes it. */
    public Descriptor message(String fullName) throws Exception {
        FileDescriptor file = fileContaining(fullName);
        String local = file.getPackage().isEmpty()
                ? fullName
                : fullName.substring(file.getPackage().length() + 1);
        String[] parts = local.split("\\.");
        Descriptor message = file.findMessageTypeByName(parts[0]);
        for (int i = 1; i < parts.length && message != null; i++) {
            message = message.findNestedTypeByName(parts[i]);
        }
        return requireNonNull(message, fullName);
    }

    /** The leading comment of a field, from the source info reflection served ("" when none). */
    public String fieldComment(String messageFullName, String field) throws Exception {
        Descriptor message = message(messageFullName);
        FieldDescriptor descriptor = requireNonNull(message.findFieldByName(field), field);
        List<Integer> path = new ArrayList<>(messagePath(message));
        path.add(DescriptorProto.FIELD_FIELD_NUMBER);
        path.add(descriptor.getIndex());
        SourceCodeInfo info = files.get(message.getFile().getName()).getSourceCodeInfo();
        return info.getLocationList().stream()
                .filter(l -> l.getPathList().equals(path))
                .map(l -> l.getLeadingComments() + l.getTrailingComments())
                .findFirst()
                .orElse("");
    }

    private static List<Integer> messagePath(Descriptor message) {
        List<Integer> path = new ArrayList<>();
        if (message.getContainingType() == null) {
            path.add(FileDescriptorProto.MESSAGE_TYPE_FIELD_NUMBER);
        } else {
            path.addAll(messagePath(message.getContainingType()));
            path.add(DescriptorProto.NESTED_TYPE_FIELD_NUMBER);
        }
        path.add(message.getIndex());
        return path;
    }

    /**
     * The status details of an error ({@code google.rpc.Status}) decoded with reflected
     * descriptors, each {@code Any} in {@code details} unpacked by its type URL.
     */
    public DecodedStatus decodeStatus(StatusRuntimeException e) throws Exception {
        Metadata trailers = requireNonNull(e.getTrailers(), "no trailers");
        byte[] bytes = requireNonNull(
                trailers.get(Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER)),
                "no grpc-status-details-bin");
        DynamicMessage status = DynamicMessage.parseFrom(message("google.rpc.Status"), bytes);
        List<DynamicMessage> details = new ArrayList<>();
        for (Object any :
                (List<?>) status.getField(status.getDescriptorForType().findFieldByName("details"))) {
            Any packed = Any.parseFrom(((Message) any).toByteString());
            String type = packed.getTypeUrl().substring(packed.getTypeUrl().lastIndexOf('/') + 1);
            details.add(DynamicMessage.parseFrom(message(type), packed.getValue()));
        }
        return new DecodedStatus(status, details);
    }

    /** A decoded {@code google.rpc.Status} and its unpacked details. */
    public record DecodedStatus(DynamicMessage status, List<DynamicMessage> details) {
        public Optional<DynamicMessage> detail(String fullName) {
            return details.stream()
                    .filter(d -> d.getDescriptorForType().getFullName().equals(fullName))
                    .findFirst();
        }

        /** The {@code field} of every {@code google.rpc.BadRequest} violation, read reflectively. */
        public List<String> violationFields() {
            List<String> fields = new ArrayList<>();
            detail("google.rpc.BadRequest").ifPresent(badRequest -> {
                for (Object violation : (List<?>)
                        badRequest.getField(badRequest.getDescriptorForType().findFieldByName("field_violations"))) {
                    DynamicMessage message = (DynamicMessage) violation;
                    fields.add((String)
                            message.getField(message.getDescriptorForType().findFieldByName("field")));
                }
            });
            return fields;
        }
    }

    private FileDescriptor fileContaining(String symbol) throws Exception {
        ServerReflectionResponse response = ask(ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol(symbol)
                .build());
        if (response.hasErrorResponse()) {
            throw new IllegalArgumentException(
                    symbol + ": " + response.getErrorResponse().getErrorMessage());
        }
        List<FileDescriptorProto> protos = new ArrayList<>();
        for (var bytes : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
            FileDescriptorProto proto = FileDescriptorProto.parseFrom(bytes);
            files.putIfAbsent(proto.getName(), proto);
            protos.add(proto);
        }
        return build(protos.get(0).getName());
    }

    private FileDescriptor build(String name) throws Exception {
        FileDescriptor done = built.get(name);
        if (done != null) {
            return done;
        }
        FileDescriptorProto proto = requireNonNull(files.get(name), "reflection did not send " + name);
        List<FileDescriptor> dependencies = new ArrayList<>();
        for (String dependency : proto.getDependencyList()) {
            dependencies.add(build(dependency));
        }
        FileDescriptor file = FileDescriptor.buildFrom(proto, dependencies.toArray(FileDescriptor[]::new));
        built.put(name, file);
        return file;
    }

    private ServerReflectionResponse ask(ServerReflectionRequest request) throws Exception {
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse response) {
                        answer.complete(response);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        answer.completeExceptionally(new IllegalStateException("no answer"));
                    }
                });
        requests.onNext(request);
        requests.onCompleted();
        return answer.get(10, TimeUnit.SECONDS);
    }
}
