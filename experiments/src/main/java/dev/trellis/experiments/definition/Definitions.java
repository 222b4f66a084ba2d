package dev.trellis.experiments.definition;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Rollout;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Experiment and rollout definitions in their JSON form (proto3 JSON mapping), the same that
 * grpcurl -d, the CLI and config files use. Unknown fields are rejected, naming the field, rather
 * than ignored: a misspelt {@code "coverge"} must not silently mean "full coverage".
 */
public final class Definitions {
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
    private static final Pattern UNKNOWN_FIELD = Pattern.compile("Cannot find field: (\\S+) in message (\\S+)");

    private Definitions() {}

    public static Experiment parseExperimentJson(String json) {
        Experiment.Builder builder = Experiment.newBuilder();
        merge(json, builder, "experiment");
        return builder.build();
    }

    public static Rollout parseRolloutJson(String json) {
        Rollout.Builder builder = Rollout.newBuilder();
        merge(json, builder, "rollout");
        return builder.build();
    }

    /** Compact proto3 JSON; fields with default values are omitted. */
    public static String toJson(Message message) {
        try {
            return PRINTER.print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(
                    "cannot print " + message.getDescriptorForType().getFullName(), e);
        }
    }

    private static void merge(String json, Message.Builder builder, String root) {
        if (json == null || json.isBlank()) {
            throw ValidationException.of(root, "empty JSON document");
        }
        try {
            PARSER.merge(json, builder);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            String message = String.valueOf(e.getMessage());
            Matcher m = UNKNOWN_FIELD.matcher(message);
            if (m.find()) {
                String messageType = m.group(2);
                String owner = messageType.equals(builder.getDescriptorForType().getFullName())
                        ? root
                        : messageType.substring(messageType.lastIndexOf('.') + 1);
                throw ValidationException.of(owner + "." + m.group(1), "unknown field in " + messageType);
            }
            throw ValidationException.of(root, "malformed JSON: " + message);
        }
    }
}
