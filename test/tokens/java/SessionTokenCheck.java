/*
 * What a Java module does to check a session token with nothing but the JDK (java.net.http,
 * java.security): no third-party library. Run by test/tokens/java.test.ts through the shipped
 * nginx; also a working example for a module that cannot use Spring Security's resource server.
 *
 *   java SessionTokenCheck <base URL> <service token> <token> <expected sid> <revoked session's token>
 *
 * 1. GET <base>/.well-known/jwks.json, and the EC P-256 key the token's `kid` names.
 * 2. Verify the token's ES256 signature. A JWS ES256 signature is R || S, 64 bytes (RFC 7518
 *    section 3.4), not DER: "SHA256withECDSAinP1363Format" takes it as it is.
 * 3. Check its claims: iss, aud, exp in the future, sid as expected.
 * 4. A tampered token and an alg:none token are refused.
 * 5. POST <base>/api/v2/introspect (RFC 7662: form-encoded token=..., HTTP Basic with the service
 *    token as the password): active for the token, inactive for the revoked session's token.
 *
 * Prints one line per step and exits 0 when all hold, 1 otherwise.
 */
import java.math.BigInteger;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class SessionTokenCheck {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public static void main(String[] args) throws Exception {
        String base = args[0], serviceToken = args[1], token = args[2], expectedSid = args[3], revokedToken = args[4];
        boolean ok = true;

        HttpResponse<String> jwksResponse = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/.well-known/jwks.json")).GET().build(), HttpResponse.BodyHandlers.ofString());
        Map<String, Object> jwks = asObject(new Json(jwksResponse.body()).value());
        System.out.println("jwks status=" + jwksResponse.statusCode() + " keys=" + ((List<?>) jwks.get("keys")).size()
            + " cache-control=" + jwksResponse.headers().firstValue("cache-control").orElse(""));

        String[] parts = token.split("\\.");
        Map<String, Object> header = asObject(new Json(decodeText(parts[0])).value());
        Map<String, Object> claims = asObject(new Json(decodeText(parts[1])).value());
        PublicKey key = keyFor(jwks, (String) header.get("kid"));
        boolean signed = "ES256".equals(header.get("alg")) && key != null && verifies(key, parts);
        System.out.println("signature alg=" + header.get("alg") + " kid=" + header.get("kid") + " valid=" + signed);
        ok &= signed;

        long now = System.currentTimeMillis() / 1000;
        boolean claimsHold = "session-gateway".equals(claims.get("iss")) && "session-gateway".equals(claims.get("aud"))
            && ((Number) claims.get("exp")).longValue() > now && expectedSid.equals(claims.get("sid"));
        System.out.println("claims iss=" + claims.get("iss") + " aud=" + claims.get("aud") + " sub=" + claims.get("sub") + " sid-matches=" + expectedSid.equals(claims.get("sid")) + " valid=" + claimsHold);
        ok &= claimsHold;

        String tamperedPayload = Base64.getUrlEncoder().withoutPadding().encodeToString(decodeText(parts[1]).replace("\"sid\"", "\"sid\"").replaceFirst("\"exp\":\\d+", "\"exp\":9999999999").getBytes(StandardCharsets.UTF_8));
        boolean tamperedRefused = !verifies(key, new String[] { parts[0], tamperedPayload, parts[2] });
        String noneHeader = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8));
        boolean noneRefused = !"ES256".equals(asObject(new Json(decodeText(noneHeader)).value()).get("alg"));
        System.out.println("tampered refused=" + tamperedRefused + " alg-none refused=" + noneRefused);
        ok &= tamperedRefused && noneRefused;

        Map<String, Object> active = introspect(base, serviceToken, token);
        Map<String, Object> revoked = introspect(base, serviceToken, revokedToken);
        boolean introspected = Boolean.TRUE.equals(active.get("active")) && expectedSid.equals(active.get("sid")) && Boolean.FALSE.equals(revoked.get("active")) && revoked.size() == 1;
        System.out.println("introspection active=" + active.get("active") + " token_type=" + active.get("token_type") + " revoked-active=" + revoked.get("active") + " valid=" + introspected);
        ok &= introspected;

        System.out.println(ok ? "ALL OK" : "FAILED");
        System.exit(ok ? 0 : 1);
    }

    private static boolean verifies(PublicKey key, String[] parts) throws Exception {
        Signature verifier = Signature.getInstance("SHA256withECDSAinP1363Format");
        verifier.initVerify(key);
        verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
        return verifier.verify(Base64.getUrlDecoder().decode(parts[2]));
    }

    private static PublicKey keyFor(Map<String, Object> jwks, String kid) throws Exception {
        for (Object entry : (List<?>) jwks.get("keys")) {
            Map<String, Object> jwk = asObject(entry);
            if (!kid.equals(jwk.get("kid")) || !"EC".equals(jwk.get("kty")) || !"P-256".equals(jwk.get("crv"))) continue;
            AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC");
            parameters.init(new ECGenParameterSpec("secp256r1"));
            ECPoint point = new ECPoint(unsigned((String) jwk.get("x")), unsigned((String) jwk.get("y")));
            return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, parameters.getParameterSpec(ECParameterSpec.class)));
        }
        return null;
    }

    private static Map<String, Object> introspect(String base, String serviceToken, String token) throws Exception {
        String basic = Base64.getEncoder().encodeToString(("java-module:" + URLEncoder.encode(serviceToken, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/api/v2/introspect"))
            .header("Authorization", "Basic " + basic)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)))
            .build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) throw new IllegalStateException("introspection answered " + response.statusCode() + ": " + response.body());
        return asObject(new Json(response.body()).value());
    }

    private static BigInteger unsigned(String base64url) {
        return new BigInteger(1, Base64.getUrlDecoder().decode(base64url));
    }

    private static String decodeText(String base64url) {
        return new String(Base64.getUrlDecoder().decode(base64url), StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asObject(Object value) {
        return (Map<String, Object>) value;
    }

    /** Just enough JSON for a JWKS, a JWT's parts and an introspection answer. */
    private static final class Json {
        private final String text;
        private int at;

        Json(String text) {
            this.text = text;
        }

        Object value() {
            skip();
            char c = text.charAt(at);
            if (c == '{') {
                Map<String, Object> object = new LinkedHashMap<>();
                at++;
                skip();
                if (text.charAt(at) == '}') { at++; return object; }
                while (true) {
                    skip();
                    String name = string();
                    skip();
                    at++; // ':'
                    object.put(name, value());
                    skip();
                    if (text.charAt(at++) == '}') return object;
                }
            }
            if (c == '[') {
                List<Object> array = new ArrayList<>();
                at++;
                skip();
                if (text.charAt(at) == ']') { at++; return array; }
                while (true) {
                    array.add(value());
                    skip();
                    if (text.charAt(at++) == ']') return array;
                }
            }
            if (c == '"') return string();
            if (text.startsWith("true", at)) { at += 4; return Boolean.TRUE; }
            if (text.startsWith("false", at)) { at += 5; return Boolean.FALSE; }
            if (text.startsWith("null", at)) { at += 4; return null; }
            int start = at;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
            return Double.valueOf(text.substring(start, at));
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            at++; // opening quote
            while (true) {
                char c = text.charAt(at++);
                if (c == '"') return out.toString();
                if (c != '\\') { out.append(c); continue; }
                char e = text.charAt(at++);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'u' -> { out.append((char) Integer.parseInt(text.substring(at, at + 4), 16)); at += 4; }
                    default -> out.append(e);
                }
            }
        }

        private void skip() {
            while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
        }
    }
}
