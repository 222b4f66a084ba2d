package dev.trellis.common.grpc;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.BindableService;
import io.grpc.Status;
import io.grpc.reflection.v1.ErrorResponse;
import io.grpc.reflection.v1.ExtensionNumberResponse;
import io.grpc.reflection.v1.FileDescriptorResponse;
import io.grpc.reflection.v1.ListServiceResponse;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The gRPC reflection service (v1 and v1alpha) from the descriptor set the build writes with
 * source info, so {@code grpcurl describe} shows the proto comments, the API reference, without
 * local .proto files. grpc-java's own reflection service serves the descriptors compiled into the
 * generated classes, which protoc strips of comments, and only the files the served services
 * reach, so no error detail type ({@code google.rpc.BadRequest}, {@code ErrorInfo}) could be
 * resolved. This one also knows every {@code google.rpc} type the servers put into error details
 * ({@link #errorDetailFiles()}). Thread-safe: the index is built once and never changes.
 */
public final class ApiReflection {
    /** Where the proto module's build puts its descriptor set (with source info and dependencies). */
    public static final String DESCRIPTOR_SET = "dev/trellis/proto/descriptors.binpb";

    private final Map<String, FileDescriptorProto> files;
    private final Map<String, FileDescriptor> built;
    private final Map<String, String> fileBySymbol;
    private final Map<String, Map<Integer, String>> extensionFiles;
    private final Supplier<List<String>> servedServices;

    private ApiReflection(List<FileDescriptorProto> protos, Supplier<List<String>> servedServices) {
        this.servedServices = requireNonNull(servedServices, "servedServices is null");
        Map<String, FileDescriptorProto> byName = new LinkedHashMap<>();
        for (FileDescriptorProto proto : protos) {
            byName.putIfAbsent(proto.getName(), proto);
        }
        this.files = Map.copyOf(byName);
        this.built = new HashMap<>();
        for (String name : byName.keySet()) {
            build(name, new HashSet<>());
        }
        Map<String, String> symbols = new HashMap<>();
        Map<String, Map<Integer, String>> extensions = new HashMap<>();
        for (FileDescriptor file : built.values()) {
            index(file, symbols, extensions);
        }
        this.fileBySymbol = Map.copyOf(symbols);
        this.extensionFiles = Map.copyOf(extensions);
    }

    /**
     * Reflection over the build's descriptor set ({@link #DESCRIPTOR_SET}) on the class path, the
     * error detail types, and the files of {@code extraFiles} (e.g. the health service's) that the
     * set lacks.
     *
     * @param servedServices the names of the services the server serves, asked at every list call
     */
    public static ApiReflection fromClasspath(Supplier<List<String>> servedServices, FileDescriptor... extraFiles) {
        List<FileDescriptorProto> protos = new ArrayList<>(readDescriptorSet().getFileList());
        List<FileDescriptor> java = new ArrayList<>(errorDetailFiles());
        java.addAll(List.of(extraFiles));
        java.add(io.grpc.reflection.v1.ServerReflectionProto.getDescriptor());
        protos.addAll(withDependencies(java));
        return new ApiReflection(protos, servedServices);
    }

    /** The files of the types the servers' errors carry in {@code grpc-status-details-bin}. */
    public static List<FileDescriptor> errorDetailFiles() {
        return List.of(com.google.rpc.StatusProto.getDescriptor(), com.google.rpc.ErrorDetailsProto.getDescriptor());
    }

    private static FileDescriptorSet readDescriptorSet() {
        ClassLoader loader = ApiReflection.class.getClassLoader();
        try (InputStream in = loader.getResourceAsStream(DESCRIPTOR_SET)) {
            if (in == null) {
                throw new IllegalStateException(DESCRIPTOR_SET + " is not on the class path (the proto module's build "
                        + "writes it; is trellis-proto a dependency?)");
            }
            return FileDescriptorSet.parseFrom(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DESCRIPTOR_SET, e);
        }
    }

    private static List<FileDescriptorProto> withDependencies(List<FileDescriptor> roots) {
        Map<String, FileDescriptorProto> seen = new LinkedHashMap<>();
        Deque<FileDescriptor> todo = new ArrayDeque<>(roots);
        while (!todo.isEmpty()) {
            FileDescriptor file = todo.pop();
            if (seen.putIfAbsent(file.getName(), file.toProto()) == null) {
                todo.addAll(file.getDependencies());
            }
        }
        return List.copyOf(seen.values());
    }

    private FileDescriptor build(String name, Set<String> visiting) {
        FileDescriptor done = built.get(name);
        if (done != null) {
            return done;
        }
        FileDescriptorProto proto = files.get(name);
        if (proto == null || !visiting.add(name)) {
            throw new IllegalStateException("descriptor set lacks " + name + " or has an import cycle");
        }
        List<FileDescriptor> dependencies = new ArrayList<>();
        for (String dependency : proto.getDependencyList()) {
            dependencies.add(build(dependency, visiting));
        }
        try {
            FileDescriptor file = FileDescriptor.buildFrom(proto, dependencies.toArray(FileDescriptor[]::new));
            built.put(name, file);
            return file;
        } catch (DescriptorValidationException e) {
            throw new IllegalStateException("invalid descriptor " + name + ": " + e.getMessage(), e);
        }
    }

    private static void index(
            FileDescriptor file, Map<String, String> symbols, Map<String, Map<Integer, String>> extensions) {
        for (Descriptor message : file.getMessageTypes()) {
            indexMessage(file, message, symbols, extensions);
        }
        for (EnumDescriptor e : file.getEnumTypes()) {
            symbols.put(e.getFullName(), file.getName());
        }
        for (FieldDescriptor extension : file.getExtensions()) {
            indexExtension(file, extension, symbols, extensions);
        }
        for (ServiceDescriptor service : file.getServices()) {
            symbols.put(service.getFullName(), file.getName());
            service.getMethods().forEach(m -> symbols.put(m.getFullName(), file.getName()));
        }
    }

    private static void indexMessage(
            FileDescriptor file,
            Descriptor message,
            Map<String, String> symbols,
            Map<String, Map<Integer, String>> extensions) {
        symbols.put(message.getFullName(), file.getName());
        message.getFields().forEach(f -> symbols.put(f.getFullName(), file.getName()));
        message.getEnumTypes().forEach(e -> symbols.put(e.getFullName(), file.getName()));
        message.getExtensions().forEach(x -> indexExtension(file, x, symbols, extensions));
        message.getNestedTypes().forEach(n -> indexMessage(file, n, symbols, extensions));
    }

    private static void indexExtension(
            FileDescriptor file,
            FieldDescriptor extension,
            Map<String, String> symbols,
            Map<String, Map<Integer, String>> extensions) {
        symbols.put(extension.getFullName(), file.getName());
        extensions
                .computeIfAbsent(extension.getContainingType().getFullName(), k -> new TreeMap<>())
                .put(extension.getNumber(), file.getName());
    }

    /** The v1 service and, for grpcurl and older tools that ask v1alpha first, the v1alpha one. */
    public List<BindableService> services() {
        return List.of(new V1(), new V1Alpha());
    }

    /** One answer of the reflection protocol (v1 messages; v1alpha's are the same on the wire). */
    ServerReflectionResponse answer(ServerReflectionRequest request) {
        ServerReflectionResponse.Builder response = ServerReflectionResponse.newBuilder()
                .setValidHost(request.getHost())
                .setOriginalRequest(request);
        switch (request.getMessageRequestCase()) {
            case LIST_SERVICES -> {
                ListServiceResponse.Builder list = ListServiceResponse.newBuilder();
                servedServices.get().stream()
                        .sorted()
                        .forEach(name -> list.addService(
                                ServiceResponse.newBuilder().setName(name).build()));
                response.setListServicesResponse(list);
            }
            case FILE_BY_FILENAME -> {
                String name = request.getFileByFilename();
                if (files.containsKey(name)) {
                    response.setFileDescriptorResponse(fileWithDependencies(name));
                } else {
                    response.setErrorResponse(notFound("no file " + name));
                }
            }
            case FILE_CONTAINING_SYMBOL -> {
                String file = fileBySymbol.get(request.getFileContainingSymbol());
                if (file != null) {
                    response.setFileDescriptorResponse(fileWithDependencies(file));
                } else {
                    response.setErrorResponse(notFound("no symbol " + request.getFileContainingSymbol()));
                }
            }
            case FILE_CONTAINING_EXTENSION -> {
                String type = request.getFileContainingExtension().getContainingType();
                int number = request.getFileContainingExtension().getExtensionNumber();
                String file = extensionFiles.getOrDefault(type, Map.of()).get(number);
                if (file != null) {
                    response.setFileDescriptorResponse(fileWithDependencies(file));
                } else {
                    response.setErrorResponse(notFound("no extension " + number + " of " + type));
                }
            }
            case ALL_EXTENSION_NUMBERS_OF_TYPE -> {
                String type = request.getAllExtensionNumbersOfType();
                if (fileBySymbol.containsKey(type)) {
                    response.setAllExtensionNumbersResponse(ExtensionNumberResponse.newBuilder()
                            .setBaseTypeName(type)
                            .addAllExtensionNumber(
                                    extensionFiles.getOrDefault(type, Map.of()).keySet()));
                } else {
                    response.setErrorResponse(notFound("no type " + type));
                }
            }
            default ->
                response.setErrorResponse(ErrorResponse.newBuilder()
                        .setErrorCode(Status.Code.UNIMPLEMENTED.value())
                        .setErrorMessage("request kind not set or unknown"));
        }
        return response.build();
    }

    private static ErrorResponse notFound(String message) {
        return ErrorResponse.newBuilder()
                .setErrorCode(Status.Code.NOT_FOUND.value())
                .setErrorMessage(message)
                .build();
    }

    /** The file first, then every file it imports, transitively (what grpc-java's reflection sends). */
    private FileDescriptorResponse fileWithDependencies(String name) {
        FileDescriptorResponse.Builder response = FileDescriptorResponse.newBuilder();
        Set<String> seen = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(List.of(name));
        while (!todo.isEmpty()) {
            String next = todo.pop();
            if (seen.add(next)) {
                FileDescriptorProto proto = files.get(next);
                response.addFileDescriptorProto(proto.toByteString());
                todo.addAll(proto.getDependencyList());
            }
        }
        return response.build();
    }

    private final class V1 extends ServerReflectionGrpc.ServerReflectionImplBase {
        @Override
        public StreamObserver<ServerReflectionRequest> serverReflectionInfo(
                StreamObserver<ServerReflectionResponse> responses) {
            return new Answering<>(responses, r -> r, r -> r);
        }
    }

    @SuppressWarnings("deprecation") // v1alpha is what older grpcurl and many tools still ask for
    private final class V1Alpha extends io.grpc.reflection.v1alpha.ServerReflectionGrpc.ServerReflectionImplBase {
        @Override
        public StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> serverReflectionInfo(
                StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionResponse> responses) {
            return new Answering<>(
                    responses,
                    r -> reparse(r.toByteString(), ServerReflectionRequest::parseFrom),
                    r -> reparse(r.toByteString(), io.grpc.reflection.v1alpha.ServerReflectionResponse::parseFrom));
        }
    }

    private interface Parser<T> {
        T parse(ByteString bytes) throws InvalidProtocolBufferException;
    }

    private static <T> T reparse(ByteString bytes, Parser<T> parser) {
        try {
            return parser.parse(bytes);
        } catch (InvalidProtocolBufferException e) {
            // the two versions' messages are the same on the wire; a failure here is a bug
            throw new IllegalStateException("reflection v1 and v1alpha messages differ", e);
        }
    }

    /** Answers each request of the stream in order; completes when the client does. */
    private final class Answering<ReqT, RespT> implements StreamObserver<ReqT> {
        private final StreamObserver<RespT> responses;
        private final java.util.function.Function<ReqT, ServerReflectionRequest> toV1;
        private final java.util.function.Function<ServerReflectionResponse, RespT> fromV1;

        Answering(
                StreamObserver<RespT> responses,
                java.util.function.Function<ReqT, ServerReflectionRequest> toV1,
                java.util.function.Function<ServerReflectionResponse, RespT> fromV1) {
            this.responses = responses;
            this.toV1 = toV1;
            this.fromV1 = fromV1;
        }

        @Override
        public void onNext(ReqT request) {
            responses.onNext(fromV1.apply(answer(toV1.apply(request))));
        }

        @Override
        public void onError(Throwable t) {
            // the client went away; nothing to answer
        }

        @Override
        public void onCompleted() {
            responses.onCompleted();
        }
    }
}
