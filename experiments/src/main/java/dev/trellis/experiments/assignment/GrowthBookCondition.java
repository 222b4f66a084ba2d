package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.trellis.experiments.FieldViolation;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * GrowthBook's targeting-condition language (its MongoDB-like "mongrule": {@code $and}, {@code
 * $or}, {@code $nor}, {@code $not}, comparisons, membership, {@code $exists}, {@code $type},
 * regular expressions, version comparisons, array operators), evaluated with the semantics of
 * GrowthBook's reference JavaScript SDK, JavaScript's loose comparisons included (a missing
 * attribute compares like 0 with {@code $lt}; {@code "8"} is greater than 5).
 *
 * <p>Attributes come in two kinds. {@link #json JSON attributes} are typed and nested, as a GrowthBook
 * SDK sees them; GrowthBook's conformance cases run on them. {@link #text Request attributes} are
 * what a Trellis request carries: a flat map of text plus the unit id as {@code id}. A text value is
 * typed by what the condition compares it with: against a number literal it is read as a number
 * (decimal notation as JSON writes numbers: {@code 42}, {@code -1.5}, {@code 2e3}), against a boolean
 * literal {@code true}/{@code false} are read as booleans, and against {@code $type "number"} or
 * {@code "boolean"} likewise. Text that does not read that way equals no number or boolean and is
 * neither less nor greater than any number. So a condition written for GrowthBook attributes that
 * were numbers or booleans holds in Trellis exactly when it holds in GrowthBook for the value the
 * text spells. A dotted name ({@code user.country}) reads the request attribute with that very
 * name.
 *
 * <p>{@link #check} lists what Trellis refuses in a definition: operators that only make sense for
 * array or object attributes, saved groups, unknown operators and malformed operands. Stateless and
 * thread-safe (compiled regular expressions are cached).
 */
public final class GrowthBookCondition {
    /** Deepest nesting of conditions a definition may have. */
    public static final int MAX_DEPTH = 32;

    private static final Pattern JSON_NUMBER = Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");
    private static final Pattern JS_DECIMAL = Pattern.compile("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");
    private static final Pattern DIGITS = Pattern.compile("[0-9]+");
    private static final Pattern INDEX = Pattern.compile("0|[1-9][0-9]{0,8}");
    private static final Pattern VERSION_PREFIX_AND_BUILD = Pattern.compile("^v|\\+.*$");
    private static final Pattern VERSION_SEPARATOR = Pattern.compile("[-.]");
    private static final int REGEX_CACHE_LIMIT = 1024;
    private static final Map<String, Optional<Pattern>> REGEXES = new ConcurrentHashMap<>();
    private static final Value NULL =
            Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    private static final Value NAN =
            Value.newBuilder().setNumberValue(Double.NaN).build();

    private static final Set<String> SCALAR_OPERATORS = Set.of("$eq", "$ne", "$lt", "$lte", "$gt", "$gte");
    private static final Set<String> LIST_OPERATORS = Set.of("$in", "$nin", "$ini", "$nini");
    private static final Set<String> VERSION_OPERATORS = Set.of("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte");
    private static final Set<String> ARRAY_OPERATORS = Set.of("$elemMatch", "$all", "$alli", "$size");
    private static final Set<String> TEXT_TYPES = Set.of("string", "number", "boolean", "null");

    private GrowthBookCondition() {}

    /** The attributes a condition reads. */
    public interface Attributes {
        /** The value at a (dotted) path; the JSON null value when absent. */
        Value get(String path);

        /** Whether values are request text, typed by what they are compared with. */
        boolean text();
    }

    /** Typed, nested attributes as a GrowthBook SDK sees them; paths are dotted walks. */
    public static Attributes json(Struct attributes) {
        Value root = Value.newBuilder()
                .setStructValue(requireNonNull(attributes, "attributes is null"))
                .build();
        return new JsonAttributes(root);
    }

    /**
     * A Trellis request's attributes: flat text, with {@code id} the unit id when there is one.
     *
     * @param unitId the request's unit id, or null/empty
     */
    public static Attributes text(Map<String, String> attributes, String unitId) {
        requireNonNull(attributes, "attributes is null");
        return new Attributes() {
            @Override
            public Value get(String path) {
                String value = path.equals(RoutingDecider.UNIT_ID) && unitId != null && !unitId.isEmpty()
                        ? unitId
                        : attributes.get(path);
                return value == null
                        ? NULL
                        : Value.newBuilder().setStringValue(value).build();
            }

            @Override
            public boolean text() {
                return true;
            }
        };
    }

    /** Whether the condition holds for the attributes. */
    public static boolean evaluate(Struct condition, Attributes attributes) {
        return evalCondition(
                requireNonNull(attributes, "attributes is null"), requireNonNull(condition, "condition is null"));
    }

    /**
     * The top-level entries of the condition that do not hold (a condition holds when all its
     * entries do), each described with the value it saw, e.g. {@code country {"$in":["US"]}: was
     * 'DE'}.
     */
    public static List<String> failures(Struct condition, Attributes attributes) {
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, Value> entry : condition.getFieldsMap().entrySet()) {
            Struct single = Struct.newBuilder()
                    .putFields(entry.getKey(), entry.getValue())
                    .build();
            if (!evalCondition(attributes, single)) {
                String name = entry.getKey();
                String seen = name.startsWith("$")
                        ? "not met"
                        : isNull(attributes.get(name))
                                ? "absent"
                                : "was " + stringify(attributes.get(name)).replace('"', '\'');
                failures.add(name + " " + stringify(entry.getValue()) + ": " + seen);
            }
        }
        return failures;
    }

    /**
     * The condition with every saved-group operator replaced by its values, as GrowthBook evaluates
     * it: {@code {"$inGroup": "g"}} becomes {@code {"$in": groups[g]}} and {@code $notInGroup} becomes
     * {@code $nin}; a group missing from {@code groups} is empty, as in GrowthBook.
     *
     * @param used receives the ids of the groups the condition refers to
     */
    public static Struct inlineSavedGroups(Struct condition, Map<String, ListValue> groups, Set<String> used) {
        requireNonNull(groups, "groups is null");
        requireNonNull(used, "used is null");
        return inlineCondition(requireNonNull(condition, "condition is null"), groups, used);
    }

    private static Struct inlineCondition(Struct condition, Map<String, ListValue> groups, Set<String> used) {
        Struct.Builder out = Struct.newBuilder();
        for (Map.Entry<String, Value> entry : condition.getFieldsMap().entrySet()) {
            Value v = entry.getValue();
            Value inlined = switch (entry.getKey()) {
                case "$and", "$or", "$nor" -> {
                    if (!v.hasListValue()) {
                        yield v;
                    }
                    ListValue.Builder items = ListValue.newBuilder();
                    for (Value item : v.getListValue().getValuesList()) {
                        items.addValues(
                                item.hasStructValue()
                                        ? Value.newBuilder()
                                                .setStructValue(inlineCondition(item.getStructValue(), groups, used))
                                                .build()
                                        : item);
                    }
                    yield Value.newBuilder().setListValue(items).build();
                }
                case "$not" ->
                    v.hasStructValue()
                            ? Value.newBuilder()
                                    .setStructValue(inlineCondition(v.getStructValue(), groups, used))
                                    .build()
                            : v;
                default -> inlineValue(v, groups, used);
            };
            out.putFields(entry.getKey(), inlined);
        }
        return out.build();
    }

    private static Value inlineValue(Value value, Map<String, ListValue> groups, Set<String> used) {
        if (!value.hasStructValue() || !isOperatorObject(value.getStructValue())) {
            return value;
        }
        Struct.Builder out = Struct.newBuilder();
        for (Map.Entry<String, Value> op : value.getStructValue().getFieldsMap().entrySet()) {
            Value operand = op.getValue();
            switch (op.getKey()) {
                case "$inGroup", "$notInGroup" -> {
                    String id = jsString(operand);
                    used.add(id);
                    out.putFields(
                            op.getKey().equals("$inGroup") ? "$in" : "$nin",
                            Value.newBuilder()
                                    .setListValue(groups.getOrDefault(id, ListValue.getDefaultInstance()))
                                    .build());
                }
                case "$not", "$size" -> out.putFields(op.getKey(), inlineValue(operand, groups, used));
                case "$elemMatch" ->
                    out.putFields(
                            op.getKey(),
                            operand.hasStructValue() && !isOperatorObject(operand.getStructValue())
                                    ? Value.newBuilder()
                                            .setStructValue(inlineCondition(operand.getStructValue(), groups, used))
                                            .build()
                                    : inlineValue(operand, groups, used));
                case "$all", "$alli" -> {
                    if (operand.hasListValue()) {
                        ListValue.Builder items = ListValue.newBuilder();
                        for (Value item : operand.getListValue().getValuesList()) {
                            items.addValues(inlineValue(item, groups, used));
                        }
                        out.putFields(
                                op.getKey(),
                                Value.newBuilder().setListValue(items).build());
                    } else {
                        out.putFields(op.getKey(), operand);
                    }
                }
                default -> out.putFields(op.getKey(), operand);
            }
        }
        return Value.newBuilder().setStructValue(out).build();
    }

    // ---------------------------------------------------------------------------------------------
    // Evaluation
    // ---------------------------------------------------------------------------------------------

    private static boolean evalCondition(Attributes obj, Struct condition) {
        for (Map.Entry<String, Value> entry : condition.getFieldsMap().entrySet()) {
            Value v = entry.getValue();
            switch (entry.getKey()) {
                case "$or" -> {
                    if (!evalOr(obj, v)) {
                        return false;
                    }
                }
                case "$nor" -> {
                    if (evalOr(obj, v)) {
                        return false;
                    }
                }
                case "$and" -> {
                    for (Value c : list(v)) {
                        if (!evalCondition(obj, struct(c))) {
                            return false;
                        }
                    }
                }
                case "$not" -> {
                    if (evalCondition(obj, struct(v))) {
                        return false;
                    }
                }
                default -> {
                    if (!evalConditionValue(v, obj.get(entry.getKey()), obj.text(), false)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static boolean evalOr(Attributes obj, Value conditions) {
        List<Value> list = list(conditions);
        if (list.isEmpty()) {
            return true;
        }
        for (Value c : list) {
            if (evalCondition(obj, struct(c))) {
                return true;
            }
        }
        return false;
    }

    private static boolean evalConditionValue(Value condition, Value value, boolean text, boolean insensitive) {
        switch (condition.getKindCase()) {
            case STRING_VALUE -> {
                String s = jsString(value);
                return insensitive
                        ? s.toLowerCase(Locale.ROOT)
                                .equals(condition.getStringValue().toLowerCase(Locale.ROOT))
                        : s.equals(condition.getStringValue());
            }
            case NUMBER_VALUE -> {
                return toNumber(text ? coerce(value, condition) : value) == condition.getNumberValue();
            }
            case BOOL_VALUE -> {
                if (text) {
                    Value typed = coerce(value, condition);
                    return typed.hasBoolValue() && typed.getBoolValue() == condition.getBoolValue();
                }
                return !isNull(value) && truthy(value) == condition.getBoolValue();
            }
            case NULL_VALUE, KIND_NOT_SET -> {
                return isNull(value);
            }
            case LIST_VALUE -> {
                return stringify(value).equals(stringify(condition));
            }
            case STRUCT_VALUE -> {
                if (!isOperatorObject(condition.getStructValue())) {
                    return stringify(value).equals(stringify(condition));
                }
                for (Map.Entry<String, Value> op :
                        condition.getStructValue().getFieldsMap().entrySet()) {
                    if (!evalOperator(op.getKey(), value, op.getValue(), text)) {
                        return false;
                    }
                }
                return true;
            }
        }
        return false;
    }

    private static boolean evalOperator(String operator, Value actual, Value expected, boolean text) {
        switch (operator) {
            case "$veq":
                return paddedVersion(actual).equals(paddedVersion(expected));
            case "$vne":
                return !paddedVersion(actual).equals(paddedVersion(expected));
            case "$vgt":
                return paddedVersion(actual).compareTo(paddedVersion(expected)) > 0;
            case "$vgte":
                return paddedVersion(actual).compareTo(paddedVersion(expected)) >= 0;
            case "$vlt":
                return paddedVersion(actual).compareTo(paddedVersion(expected)) < 0;
            case "$vlte":
                return paddedVersion(actual).compareTo(paddedVersion(expected)) <= 0;
            case "$eq":
                return strictEquals(text ? coerce(actual, expected) : actual, expected, false);
            case "$ne":
                return !strictEquals(text ? coerce(actual, expected) : actual, expected, false);
            case "$lt", "$lte", "$gt", "$gte":
                return compare(text ? coerce(actual, expected) : actual, expected, operator);
            case "$exists":
                return truthy(expected) != isNull(actual);
            case "$in":
                return expected.hasListValue() && isIn(actual, expected.getListValue(), false, text);
            case "$ini":
                return expected.hasListValue() && isIn(actual, expected.getListValue(), true, text);
            case "$nin":
                return expected.hasListValue() && !isIn(actual, expected.getListValue(), false, text);
            case "$nini":
                return expected.hasListValue() && !isIn(actual, expected.getListValue(), true, text);
            case "$inGroup":
                // Trellis keeps no saved groups: every group is empty (definitions refuse the operator)
                return false;
            case "$notInGroup":
                return true;
            case "$not":
                return !evalConditionValue(expected, actual, text, false);
            case "$size":
                return actual.hasListValue()
                        && evalConditionValue(
                                expected,
                                Value.newBuilder()
                                        .setNumberValue(actual.getListValue().getValuesCount())
                                        .build(),
                                false,
                                false);
            case "$elemMatch":
                return elemMatch(actual, expected);
            case "$all":
                return expected.hasListValue() && isInAll(actual, expected.getListValue(), false);
            case "$alli":
                return expected.hasListValue() && isInAll(actual, expected.getListValue(), true);
            case "$regex":
                return regexFinds(expected, actual, false);
            case "$regexi":
                return regexFinds(expected, actual, true);
            case "$type":
                return expected.hasStringValue()
                        && type(text ? coerceToType(actual, expected.getStringValue()) : actual)
                                .equals(expected.getStringValue());
            default:
                return false; // unknown operator: GrowthBook evaluates it as false
        }
    }

    private static boolean isIn(Value actual, ListValue expected, boolean insensitive, boolean text) {
        if (actual.hasListValue()) {
            for (Value element : actual.getListValue().getValuesList()) {
                for (Value e : expected.getValuesList()) {
                    if (sameValueZero(element, e, insensitive)) {
                        return true;
                    }
                }
            }
            return false;
        }
        for (Value e : expected.getValuesList()) {
            if (sameValueZero(text ? coerce(actual, e) : actual, e, insensitive)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isInAll(Value actual, ListValue expected, boolean insensitive) {
        if (!actual.hasListValue()) {
            return false;
        }
        for (Value e : expected.getValuesList()) {
            boolean passed = false;
            for (Value a : actual.getListValue().getValuesList()) {
                if (evalConditionValue(e, a, false, insensitive)) {
                    passed = true;
                    break;
                }
            }
            if (!passed) {
                return false;
            }
        }
        return true;
    }

    private static boolean elemMatch(Value actual, Value expected) {
        if (!actual.hasListValue() || !expected.hasStructValue()) {
            return false;
        }
        boolean operators = isOperatorObject(expected.getStructValue());
        for (Value element : actual.getListValue().getValuesList()) {
            if (!truthy(element)) {
                continue;
            }
            boolean matches = operators
                    ? evalConditionValue(expected, element, false, false)
                    : evalCondition(new JsonAttributes(element), expected.getStructValue());
            if (matches) {
                return true;
            }
        }
        return false;
    }

    private static boolean regexFinds(Value expected, Value actual, boolean insensitive) {
        if (!expected.hasStringValue()) {
            return false;
        }
        Optional<Pattern> pattern = regex(expected.getStringValue(), insensitive);
        return pattern.isPresent() && pattern.get().matcher(jsString(actual)).find();
    }

    private static Optional<Pattern> regex(String source, boolean insensitive) {
        String key = (insensitive ? "i/" : "/") + source;
        Optional<Pattern> cached = REGEXES.get(key);
        if (cached != null) {
            return cached;
        }
        Optional<Pattern> compiled;
        try {
            compiled = Optional.of(
                    insensitive
                            ? Pattern.compile(source, Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE)
                            : Pattern.compile(source));
        } catch (PatternSyntaxException e) {
            compiled = Optional.empty(); // GrowthBook: an invalid pattern matches nothing
        }
        if (REGEXES.size() >= REGEX_CACHE_LIMIT) {
            REGEXES.clear(); // definitions hold few patterns; this only bounds a pathological set
        }
        REGEXES.put(key, compiled);
        return compiled;
    }

    private static boolean isOperatorObject(Struct s) {
        if (s.getFieldsCount() == 0) {
            return false;
        }
        for (String key : s.getFieldsMap().keySet()) {
            if (!key.startsWith("$")) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------
    // Request text typed by the literal it meets
    // ---------------------------------------------------------------------------------------------

    /** Request text read as the literal's type (number or boolean); anything else stays text. */
    private static Value coerce(Value actual, Value literal) {
        if (!actual.hasStringValue()) {
            return actual;
        }
        if (literal.hasNumberValue()) {
            return readNumber(actual.getStringValue());
        }
        if (literal.hasBoolValue()) {
            return readBoolean(actual);
        }
        return actual;
    }

    private static Value coerceToType(Value actual, String type) {
        if (!actual.hasStringValue()) {
            return actual;
        }
        return switch (type) {
            case "number" -> {
                Value n = readNumber(actual.getStringValue());
                yield Double.isNaN(n.getNumberValue()) ? actual : n;
            }
            case "boolean" -> readBoolean(actual);
            default -> actual;
        };
    }

    /** Decimal notation as JSON writes numbers; anything else is NaN, which equals nothing. */
    private static Value readNumber(String text) {
        return JSON_NUMBER.matcher(text).matches()
                ? Value.newBuilder().setNumberValue(Double.parseDouble(text)).build()
                : NAN;
    }

    private static Value readBoolean(Value text) {
        return switch (text.getStringValue()) {
            case "true" -> Value.newBuilder().setBoolValue(true).build();
            case "false" -> Value.newBuilder().setBoolValue(false).build();
            default -> text;
        };
    }

    // ---------------------------------------------------------------------------------------------
    // JavaScript semantics
    // ---------------------------------------------------------------------------------------------

    /** JavaScript {@code ===} (and, with {@code nanEqual}, SameValueZero as {@code includes} uses). */
    private static boolean strictEquals(Value a, Value b, boolean nanEqual) {
        if (kind(a) != kind(b)) {
            return false;
        }
        return switch (kind(a)) {
            case NULL_VALUE -> true;
            case NUMBER_VALUE ->
                a.getNumberValue() == b.getNumberValue()
                        || (nanEqual && Double.isNaN(a.getNumberValue()) && Double.isNaN(b.getNumberValue()));
            case STRING_VALUE -> a.getStringValue().equals(b.getStringValue());
            case BOOL_VALUE -> a.getBoolValue() == b.getBoolValue();
            default -> false; // arrays and objects are compared by reference in JavaScript
        };
    }

    private static boolean sameValueZero(Value a, Value b, boolean insensitive) {
        if (insensitive && a.hasStringValue() && b.hasStringValue()) {
            return a.getStringValue()
                    .toLowerCase(Locale.ROOT)
                    .equals(b.getStringValue().toLowerCase(Locale.ROOT));
        }
        return strictEquals(a, b, true);
    }

    /** JavaScript's {@code <}, {@code <=}, {@code >}, {@code >=} with their type conversions. */
    private static boolean compare(Value a, Value b, String operator) {
        Value x = toPrimitive(a);
        Value y = toPrimitive(b);
        int c;
        if (x.hasStringValue() && y.hasStringValue()) {
            c = x.getStringValue().compareTo(y.getStringValue()); // UTF-16 code units, as JavaScript
        } else {
            double m = toNumber(x);
            double n = toNumber(y);
            if (Double.isNaN(m) || Double.isNaN(n)) {
                return false;
            }
            c = Double.compare(m == 0 ? 0 : m, n == 0 ? 0 : n);
        }
        return switch (operator) {
            case "$lt" -> c < 0;
            case "$lte" -> c <= 0;
            case "$gt" -> c > 0;
            default -> c >= 0;
        };
    }

    private static Value toPrimitive(Value v) {
        return v.hasListValue() || v.hasStructValue()
                ? Value.newBuilder().setStringValue(jsString(v)).build()
                : v;
    }

    /** JavaScript's ToNumber. */
    private static double toNumber(Value v) {
        return switch (kind(v)) {
            case NULL_VALUE -> 0;
            case BOOL_VALUE -> v.getBoolValue() ? 1 : 0;
            case NUMBER_VALUE -> v.getNumberValue();
            case STRING_VALUE -> stringToNumber(v.getStringValue());
            default -> stringToNumber(jsString(v));
        };
    }

    static double stringToNumber(String s) {
        String t = jsTrim(s);
        if (t.isEmpty()) {
            return 0;
        }
        switch (t) {
            case "Infinity", "+Infinity":
                return Double.POSITIVE_INFINITY;
            case "-Infinity":
                return Double.NEGATIVE_INFINITY;
            default:
                break;
        }
        if (t.length() > 2 && t.charAt(0) == '0') {
            int radix = switch (t.charAt(1)) {
                case 'x', 'X' -> 16;
                case 'o', 'O' -> 8;
                case 'b', 'B' -> 2;
                default -> 0;
            };
            if (radix > 0) {
                try {
                    return new BigInteger(t.substring(2), radix).doubleValue();
                } catch (NumberFormatException e) {
                    return Double.NaN;
                }
            }
        }
        return JS_DECIMAL.matcher(t).matches() ? Double.parseDouble(t) : Double.NaN;
    }

    private static String jsTrim(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && jsWhitespace(s.charAt(start))) {
            start++;
        }
        while (end > start && jsWhitespace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    private static boolean jsWhitespace(char c) {
        return c == '\t'
                || c == '\n'
                || c == 0x0B
                || c == '\f'
                || c == '\r'
                || c == ' '
                || c == 0xA0
                || c == 0x2028
                || c == 0x2029
                || c == 0xFEFF
                || Character.getType(c) == Character.SPACE_SEPARATOR;
    }

    /** JavaScript truthiness. */
    private static boolean truthy(Value v) {
        return switch (kind(v)) {
            case NULL_VALUE -> false;
            case BOOL_VALUE -> v.getBoolValue();
            case NUMBER_VALUE -> v.getNumberValue() != 0 && !Double.isNaN(v.getNumberValue());
            case STRING_VALUE -> !v.getStringValue().isEmpty();
            default -> true;
        };
    }

    /** JavaScript's {@code String(v)}. */
    private static String jsString(Value v) {
        return switch (kind(v)) {
            case NULL_VALUE -> "null";
            case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
            case NUMBER_VALUE -> jsNumber(v.getNumberValue());
            case STRING_VALUE -> v.getStringValue();
            case LIST_VALUE -> {
                StringBuilder out = new StringBuilder();
                List<Value> values = v.getListValue().getValuesList();
                for (int i = 0; i < values.size(); i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    if (!isNull(values.get(i))) {
                        out.append(jsString(values.get(i)));
                    }
                }
                yield out.toString();
            }
            default -> "[object Object]";
        };
    }

    /** JavaScript's Number.prototype.toString() for a double. */
    static String jsNumber(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return "0";
        }
        BigDecimal exact = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = exact.unscaledValue().toString();
        int k = digits.length();
        int n = k - exact.scale(); // d = 0.digits × 10^n
        StringBuilder out = new StringBuilder(d < 0 ? "-" : "");
        if (k <= n && n <= 21) {
            out.append(digits).append("0".repeat(n - k));
        } else if (0 < n && n <= 21) {
            out.append(digits, 0, n).append('.').append(digits, n, k);
        } else if (-6 < n && n <= 0) {
            out.append("0.").append("0".repeat(-n)).append(digits);
        } else {
            out.append(digits.charAt(0));
            if (k > 1) {
                out.append('.').append(digits, 1, k);
            }
            out.append('e').append(n - 1 >= 0 ? "+" : "-").append(Math.abs(n - 1));
        }
        return out.toString();
    }

    /** JavaScript's JSON.stringify (keys in their order). */
    public static String stringify(Value v) {
        StringBuilder out = new StringBuilder();
        stringify(v, out);
        return out.toString();
    }

    private static void stringify(Value v, StringBuilder out) {
        switch (kind(v)) {
            case NULL_VALUE -> out.append("null");
            case BOOL_VALUE -> out.append(v.getBoolValue());
            case NUMBER_VALUE ->
                out.append(Double.isFinite(v.getNumberValue()) ? jsNumber(v.getNumberValue()) : "null");
            case STRING_VALUE -> quote(v.getStringValue(), out);
            case LIST_VALUE -> {
                out.append('[');
                List<Value> values = v.getListValue().getValuesList();
                for (int i = 0; i < values.size(); i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    stringify(values.get(i), out);
                }
                out.append(']');
            }
            default -> {
                out.append('{');
                boolean firstField = true;
                for (Map.Entry<String, Value> e :
                        v.getStructValue().getFieldsMap().entrySet()) {
                    if (!firstField) {
                        out.append(',');
                    }
                    firstField = false;
                    quote(e.getKey(), out);
                    out.append(':');
                    stringify(e.getValue(), out);
                }
                out.append('}');
            }
        }
    }

    private static void quote(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    boolean loneSurrogate = Character.isSurrogate(c)
                            && !(Character.isHighSurrogate(c)
                                    && i + 1 < s.length()
                                    && Character.isLowSurrogate(s.charAt(i + 1)))
                            && !(Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1)));
                    if (c < 0x20 || loneSurrogate) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    private static String type(Value v) {
        return switch (kind(v)) {
            case NULL_VALUE -> "null";
            case LIST_VALUE -> "array";
            case NUMBER_VALUE -> "number";
            case STRING_VALUE -> "string";
            case BOOL_VALUE -> "boolean";
            default -> "object";
        };
    }

    /**
     * GrowthBook's paddedVersionString: build metadata and a leading {@code v} dropped, parts split at
     * {@code -} and {@code .}, a {@code ~} appended to a plain x.y.z (so it sorts after its
     * pre-releases), numeric parts left-padded to 5 so that text order is version order.
     */
    static String paddedVersion(Value input) {
        String s;
        if (input.hasNumberValue()) {
            s = jsNumber(input.getNumberValue());
        } else if (input.hasStringValue() && !input.getStringValue().isEmpty()) {
            s = input.getStringValue();
        } else {
            s = "0";
        }
        String[] parts =
                VERSION_SEPARATOR.split(VERSION_PREFIX_AND_BUILD.matcher(s).replaceAll(""), -1);
        List<String> padded = new ArrayList<>(parts.length + 1);
        for (String part : parts) {
            padded.add(
                    DIGITS.matcher(part).matches() && part.length() < 5 ? " ".repeat(5 - part.length()) + part : part);
        }
        if (parts.length == 3) {
            padded.add("~");
        }
        return String.join("-", padded);
    }

    private static boolean isNull(Value v) {
        return kind(v) == Value.KindCase.NULL_VALUE;
    }

    private static Value.KindCase kind(Value v) {
        return v.getKindCase() == Value.KindCase.KIND_NOT_SET ? Value.KindCase.NULL_VALUE : v.getKindCase();
    }

    private static List<Value> list(Value v) {
        return v.hasListValue() ? v.getListValue().getValuesList() : List.of();
    }

    private static Struct struct(Value v) {
        return v.hasStructValue() ? v.getStructValue() : Struct.getDefaultInstance();
    }

    /** Typed attributes; a path is walked through objects (and arrays by index), as GrowthBook's getPath. */
    private static final class JsonAttributes implements Attributes {
        private final Value root;

        JsonAttributes(Value root) {
            this.root = root;
        }

        @Override
        public Value get(String path) {
            Value current = root;
            for (String part : path.split("\\.", -1)) {
                if (current.hasStructValue() && current.getStructValue().containsFields(part)) {
                    current = current.getStructValue().getFieldsOrThrow(part);
                } else if (current.hasListValue()
                        && INDEX.matcher(part).matches()
                        && Integer.parseInt(part) < current.getListValue().getValuesCount()) {
                    current = current.getListValue().getValues(Integer.parseInt(part));
                } else if (current.hasListValue() && part.equals("length")) {
                    current = Value.newBuilder()
                            .setNumberValue(current.getListValue().getValuesCount())
                            .build();
                } else {
                    return NULL;
                }
            }
            return current;
        }

        @Override
        public boolean text() {
            return false;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // What Trellis definitions accept
    // ---------------------------------------------------------------------------------------------

    /**
     * What Trellis refuses in a condition, as field violations under {@code path}: operators that
     * only hold for array or object attributes ({@code $elemMatch}, {@code $all}, {@code $alli},
     * {@code $size}, array and object literals, {@code $type} object/array), saved groups ({@code
     * $inGroup}, {@code $notInGroup}), unknown operators, malformed operands, invalid regular
     * expressions, and nesting deeper than {@link #MAX_DEPTH}. Empty when the condition is fine.
     */
    public static List<FieldViolation> check(Struct condition, String path) {
        List<FieldViolation> violations = new ArrayList<>();
        checkCondition(condition, path, 0, violations);
        return violations;
    }

    private static void checkCondition(Struct condition, String path, int depth, List<FieldViolation> v) {
        if (depth > MAX_DEPTH) {
            v.add(new FieldViolation(path, "nested deeper than " + MAX_DEPTH + " levels"));
            return;
        }
        for (Map.Entry<String, Value> entry : condition.getFieldsMap().entrySet()) {
            String key = entry.getKey();
            Value value = entry.getValue();
            String at = path + member(key);
            switch (key) {
                case "$and", "$or", "$nor" -> {
                    if (!value.hasListValue()) {
                        v.add(new FieldViolation(at, key + " needs a list of conditions"));
                        continue;
                    }
                    List<Value> items = value.getListValue().getValuesList();
                    for (int i = 0; i < items.size(); i++) {
                        if (items.get(i).hasStructValue()) {
                            checkCondition(items.get(i).getStructValue(), at + "[" + i + "]", depth + 1, v);
                        } else {
                            v.add(new FieldViolation(at + "[" + i + "]", "must be a condition (a JSON object)"));
                        }
                    }
                }
                case "$not" -> {
                    if (value.hasStructValue()) {
                        checkCondition(value.getStructValue(), at, depth + 1, v);
                    } else {
                        v.add(new FieldViolation(at, "$not needs a condition (a JSON object)"));
                    }
                }
                default -> {
                    if (key.startsWith("$")) {
                        v.add(new FieldViolation(
                                at, "unknown logical operator " + key + "; use $and, $or, $nor or $not"));
                    } else {
                        checkConditionValue(value, at, depth + 1, v);
                    }
                }
            }
        }
    }

    private static void checkConditionValue(Value value, String at, int depth, List<FieldViolation> v) {
        if (depth > MAX_DEPTH) {
            v.add(new FieldViolation(at, "nested deeper than " + MAX_DEPTH + " levels"));
            return;
        }
        if (value.hasListValue()) {
            v.add(new FieldViolation(
                    at, "compares the attribute with an array; request attributes are text, so it could never hold"));
            return;
        }
        if (!value.hasStructValue()) {
            return; // a string, number, boolean or null literal
        }
        Struct operators = value.getStructValue();
        if (!isOperatorObject(operators)) {
            v.add(new FieldViolation(
                    at,
                    "compares the attribute with an object; request attributes are text, so it could never hold"
                            + " (an operator object has only $ keys)"));
            return;
        }
        for (Map.Entry<String, Value> entry : operators.getFieldsMap().entrySet()) {
            checkOperator(entry.getKey(), entry.getValue(), at + member(entry.getKey()), depth, v);
        }
    }

    private static void checkOperator(String op, Value operand, String at, int depth, List<FieldViolation> v) {
        if (SCALAR_OPERATORS.contains(op)) {
            if (operand.hasListValue() || operand.hasStructValue()) {
                v.add(new FieldViolation(at, op + " needs a string, number, boolean or null"));
            }
        } else if (LIST_OPERATORS.contains(op)) {
            if (!operand.hasListValue()) {
                v.add(new FieldViolation(at, op + " needs a list of values"));
            } else if (operand.getListValue().getValuesList().stream()
                    .anyMatch(x -> x.hasListValue() || x.hasStructValue())) {
                v.add(new FieldViolation(at, op + " values must be strings, numbers, booleans or null"));
            }
        } else if (VERSION_OPERATORS.contains(op)) {
            if (!operand.hasStringValue() && !operand.hasNumberValue()) {
                v.add(new FieldViolation(at, op + " needs a version string such as \"1.2.3\""));
            }
        } else if (ARRAY_OPERATORS.contains(op)) {
            v.add(new FieldViolation(
                    at, op + " needs an array attribute; Trellis request attributes are text, so it is not supported"));
        } else {
            switch (op) {
                case "$exists" -> {
                    if (!operand.hasBoolValue()) {
                        v.add(new FieldViolation(at, "$exists needs true or false"));
                    }
                }
                case "$type" -> {
                    if (!operand.hasStringValue() || !TEXT_TYPES.contains(operand.getStringValue())) {
                        v.add(new FieldViolation(
                                at,
                                "$type must be \"string\", \"number\", \"boolean\" or \"null\" (request attributes are"
                                        + " text, never arrays or objects)"));
                    }
                }
                case "$regex", "$regexi" -> {
                    if (!operand.hasStringValue()) {
                        v.add(new FieldViolation(at, op + " needs a regular expression string"));
                    } else if (regex(operand.getStringValue(), op.equals("$regexi"))
                            .isEmpty()) {
                        v.add(new FieldViolation(at, "invalid regular expression " + stringify(operand)));
                    }
                }
                case "$not" -> checkConditionValue(operand, at, depth + 1, v);
                case "$inGroup", "$notInGroup" ->
                    v.add(new FieldViolation(
                            at,
                            op + " refers to a GrowthBook saved group, which Trellis does not store; list its values"
                                    + " with " + (op.equals("$inGroup") ? "$in" : "$nin")
                                    + " (trellis experiments import does this from the export's savedGroups)"));
                default -> v.add(new FieldViolation(at, "unknown operator " + op));
            }
        }
    }

    private static String member(String key) {
        return key.matches("[A-Za-z0-9_$]+")
                ? "." + key
                : "[" + stringify(Value.newBuilder().setStringValue(key).build()) + "]";
    }
}
