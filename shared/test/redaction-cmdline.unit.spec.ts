// Command-line rules, row by row (CMDLINE_FLAG_RULES, CMDLINE_VALUELESS_FLAGS, the generic long flag), in both forms
// the agent meets: an argument vector (the kernel, /proc/PID/cmdline) and a space-joined line (facts, the Go format).
import { describe, expect, it } from "vitest";
import { CMDLINE_FLAG_RULES, CMDLINE_POSITIONAL_RULES, CMDLINE_VALUELESS_FLAGS, RedactionPolicy } from "../src/redaction/index.ts";

const p = RedactionPolicy.DEFAULT;

/** Per rule: [argv, exact redacted argv] it applies to, and an argv it must leave alone. */
const FLAG_CASES: Record<string, { hit: [string[], string[]][]; miss: string[][] }> = {
  "mysql-p": {
    hit: [[["mysql", "-pSECRET", "-h", "db", "app"], ["mysql", "-p[REDACTED]", "-h", "db", "app"]], [["/usr/bin/mysqldump", "-uroot", "-ps3", "db"], ["/usr/bin/mysqldump", "-uroot", "-p[REDACTED]", "db"]]],
    miss: [["mysql", "-p", "-h", "db", "app"], ["psql", "-p5432"]],
  },
  "mysql-password": {
    hit: [[["mysql", "--password=SECRET", "app"], ["mysql", "--password=[REDACTED]", "app"]]],
    miss: [["mysql", "--password", "app"]],
  },
  "redis-cli-a": {
    hit: [[["redis-cli", "-a", "SECRET", "ping"], ["redis-cli", "-a", "[REDACTED]", "ping"]], [["valkey-cli", "--pass", "-dash-first", "ping"], ["valkey-cli", "--pass", "[REDACTED]", "ping"]]],
    miss: [["curl", "-a", "file"], ["redis-cli", "-h", "cache", "ping"]],
  },
  "curl-user": {
    hit: [
      [["curl", "-u", "user:pw", "https://h"], ["curl", "-u", "user:[REDACTED]", "https://h"]],
      [["curl", "-uuser:pw", "https://h"], ["curl", "-uuser:[REDACTED]", "https://h"]],
      [["curl", "--proxy-user", "p:q", "https://h"], ["curl", "--proxy-user", "p:[REDACTED]", "https://h"]],
    ],
    miss: [["curl", "-u", "user", "https://h"], ["mysql", "-u", "root:x"]],
  },
  "curl-header": {
    hit: [
      [["curl", "-H", "Authorization: Bearer abc", "https://h"], ["curl", "-H", "Authorization: [REDACTED]", "https://h"]],
      [["curl", "--header", "X-Api-Key: k1", "https://h"], ["curl", "--header", "X-Api-Key: [REDACTED]", "https://h"]],
      [["curl", "-HCookie: sid=1", "https://h"], ["curl", "-HCookie: [REDACTED]", "https://h"]],
    ],
    miss: [["curl", "-H", "Accept: application/json", "https://h"]],
  },
  "curl-bearer": {
    hit: [[["curl", "--oauth2-bearer", "tok", "https://h"], ["curl", "--oauth2-bearer", "[REDACTED]", "https://h"]]],
    miss: [["curl", "--oauth2-bearer"]],
  },
  "curl-cookie": {
    hit: [[["curl", "-b", "sid=abc; theme=dark", "https://h"], ["curl", "-b", "sid=[REDACTED]; theme=[REDACTED]", "https://h"]]],
    miss: [["curl", "-b", "cookies.txt", "https://h"]],
  },
  "wget-header": {
    hit: [[["wget", "--header=Authorization: Basic dXNlcjpwdw==", "https://h"], ["wget", "--header=Authorization: [REDACTED]", "https://h"]]],
    miss: [["wget", "--header=Accept: */*", "https://h"]],
  },
  "httpie-auth": {
    hit: [[["http", "-a", "user:pw", "GET", "h"], ["http", "-a", "user:[REDACTED]", "GET", "h"]]],
    miss: [["http", "-a", "user", "GET", "h"]],
  },
  "mongo-password": {
    hit: [[["mongosh", "-u", "admin", "-p", "s3", "--host", "db"], ["mongosh", "-u", "admin", "-p", "[REDACTED]", "--host", "db"]]],
    miss: [["mongosh", "--port", "27017"]],
  },
  "sshpass-p": {
    hit: [[["sshpass", "-p", "s3", "ssh", "h"], ["sshpass", "-p", "[REDACTED]", "ssh", "h"]], [["sshpass", "-ps3", "ssh", "h"], ["sshpass", "-p[REDACTED]", "ssh", "h"]]],
    miss: [["sshpass", "-f", "/run/pw", "ssh", "h"]],
  },
  "docker-login-password": {
    hit: [
      [["docker", "login", "-u", "bob", "-p", "X", "registry.example"], ["docker", "login", "-u", "bob", "-p", "[REDACTED]", "registry.example"]],
      [["podman", "login", "--password", "X", "quay.io"], ["podman", "login", "--password", "[REDACTED]", "quay.io"]],
      [["docker", "login", "--password=X"], ["docker", "login", "--password=[REDACTED]"]],
    ],
    miss: [["docker", "run", "-p", "8080:80", "nginx"], ["docker", "login", "-u", "bob", "--password-stdin", "registry.example"]],
  },
  "sqlcmd-P": {
    hit: [[["sqlcmd", "-S", "db", "-U", "sa", "-P", "X"], ["sqlcmd", "-S", "db", "-U", "sa", "-P", "[REDACTED]"]], [["bcp", "t", "out", "f", "-PX"], ["bcp", "t", "out", "f", "-P[REDACTED]"]]],
    miss: [["sqlcmd", "-S", "db", "-E"], ["psql", "-P", "pager=off"]],
  },
  "openssl-pass": {
    hit: [[["openssl", "pkcs12", "-passin", "pass:s3", "-in", "a.p12"], ["openssl", "pkcs12", "-passin", "[REDACTED]", "-in", "a.p12"]]],
    miss: [["openssl", "x509", "-in", "cert.pem"]],
  },
};

describe("CMDLINE_FLAG_RULES", () => {
  it("has cases for every rule, and every rule names its source", () => {
    expect(Object.keys(FLAG_CASES).sort()).toEqual(CMDLINE_FLAG_RULES.map((r) => r.name).sort());
    for (const rule of CMDLINE_FLAG_RULES) expect(rule.source.length, rule.name).toBeGreaterThan(10);
  });

  for (const rule of CMDLINE_FLAG_RULES) {
    const cases = FLAG_CASES[rule.name]!;
    it.each(cases.hit)(`${rule.name}: %j`, (argv, expected) => {
      expect(p.argv(argv)).toEqual(expected);
      expect(p.argv(expected)).toEqual(expected);
    });
    it.each(cases.miss)(`${rule.name} leaves %j alone`, (...argv) => {
      expect(p.argv(argv)).toEqual(argv);
    });
  }
});

/** Per positional rule: [argv, exact redacted argv], and an argv it must leave alone. */
const POSITIONAL_CASES: Record<string, { hit: [string[], string[]][]; miss: string[][] }> = {
  "htpasswd-b": {
    hit: [
      [["htpasswd", "-b", "/etc/nginx/.htpasswd", "user", "X"], ["htpasswd", "-b", "/etc/nginx/.htpasswd", "user", "[REDACTED]"]],
      [["htpasswd", "-nbB", "user", "X"], ["htpasswd", "-nbB", "user", "[REDACTED]"]],
    ],
    miss: [["htpasswd", "-c", "/etc/nginx/.htpasswd", "user"], ["htpasswd", "-D", "file", "user"]],
  },
  "vault-login": {
    hit: [[["vault", "login", "hvs.CAESIJlWh0dW5rbm93bl9hY2Nlc3Nvcg"], ["vault", "login", "[REDACTED]"]], [["vault", "login", "-no-print", "s.1234567890abcdef"], ["vault", "login", "-no-print", "[REDACTED]"]]],
    miss: [["vault", "login", "-method=userpass", "username=bob"], ["vault", "read", "secret/x"]],
  },
  "aws-configure-set": {
    hit: [
      [["aws", "configure", "set", "aws_secret_access_key", "X"], ["aws", "configure", "set", "aws_secret_access_key", "[REDACTED]"]],
      [["aws", "--profile", "prod", "configure", "set", "aws_session_token", "X"], ["aws", "--profile", "prod", "configure", "set", "aws_session_token", "[REDACTED]"]],
    ],
    miss: [["aws", "configure", "set", "region", "eu-west-1"], ["aws", "s3", "ls", "set"]],
  },
};

describe("CMDLINE_POSITIONAL_RULES", () => {
  it("has cases for every rule, and every rule names its source", () => {
    expect(Object.keys(POSITIONAL_CASES).sort()).toEqual(CMDLINE_POSITIONAL_RULES.map((r) => r.name).sort());
    for (const rule of CMDLINE_POSITIONAL_RULES) expect(rule.source.length, rule.name).toBeGreaterThan(10);
  });

  for (const rule of CMDLINE_POSITIONAL_RULES) {
    const cases = POSITIONAL_CASES[rule.name]!;
    it.each(cases.hit)(`${rule.name}: %j`, (argv, expected) => {
      expect(p.argv(argv)).toEqual(expected);
      expect(p.argv(expected)).toEqual(expected);
      expect(p.cmdline(argv.join(" "))).toBe(expected.join(" "));
    });
    it.each(cases.miss)(`${rule.name} leaves %j alone`, (...argv) => {
      expect(p.argv(argv)).toEqual(argv);
      expect(p.cmdline(argv.join(" "))).toBe(argv.join(" "));
    });
  }
});

describe("SQL text in a command (sql-password-literal, sql-identified-by across words)", () => {
  it("hides the literal in an argument and in a joined line", () => {
    expect(p.argv(["psql", "-c", "ALTER USER x PASSWORD 'secret'"])).toEqual(["psql", "-c", "ALTER USER x PASSWORD '[REDACTED]'"]);
    expect(p.cmdline(`psql -c "ALTER USER x PASSWORD 'secret'"`)).toBe(`psql -c "ALTER USER x PASSWORD '[REDACTED]'"`);
    expect(p.cmdline(`mysql -e "CREATE USER 'a'@'%' IDENTIFIED BY 'pw'"`)).toBe(`mysql -e "CREATE USER 'a'@'%' IDENTIFIED BY '[REDACTED]'"`);
    expect(p.cmdline(`psql -c "SELECT 1"`)).toBe(`psql -c "SELECT 1"`);
  });
});

describe("CMDLINE_VALUELESS_FLAGS and the generic long flag", () => {
  it("hides the value of any --<secret name> flag, separate or with '='", () => {
    expect(p.argv(["app", "--token", "tok123", "--api-key", "k1", "--client-secret=s", "--verbose"])).toEqual(["app", "--token", "[REDACTED]", "--api-key", "[REDACTED]", "--client-secret=[REDACTED]", "--verbose"]);
  });

  it("does not take a flag as the value, nor a value after a --no- switch", () => {
    expect(p.argv(["app", "--auth", "--verbose"])).toEqual(["app", "--auth", "--verbose"]);
    expect(p.argv(["app", "--no-auth", "target"])).toEqual(["app", "--no-auth", "target"]);
  });

  it.each(Object.entries(CMDLINE_VALUELESS_FLAGS).flatMap(([program, flags]) => flags.map((flag) => [program, flag])))(
    "%s %s takes no value: the next argument stays",
    (program, flag) => {
      expect(p.argv([program, flag, "mydb"])).toEqual([program, flag, "mydb"]);
    },
  );

  it("hides it for a program without that exception", () => {
    expect(p.argv(["kubectl", "--password", "s3", "get", "pods"])).toEqual(["kubectl", "--password", "[REDACTED]", "get", "pods"]);
  });
});

describe("the issue's command lines (argv and joined forms)", () => {
  const cases: [string[], string][] = [
    [["curl", "-u", "user:pw", "https://api.example/x"], "curl -u user:[REDACTED] https://api.example/x"],
    [["curl", "-H", "Authorization: Bearer abc.def", "https://api.example/x"], "curl -H Authorization: [REDACTED] https://api.example/x"],
    [["mysql", "-pSECRET", "app"], "mysql -p[REDACTED] app"],
    [["mysql", "--password=SECRET", "app"], "mysql --password=[REDACTED] app"],
    [["redis-cli", "-a", "SECRET", "ping"], "redis-cli -a [REDACTED] ping"],
    [["psql", "postgresql://u:pw@h/db"], "psql postgresql://u:[REDACTED]@h/db"],
    [["psql", "-h", "db", "-p", "5432", "-U", "app"], "psql -h db -p 5432 -U app"],
    [["java", "-Ddb.password=abc#X", "-jar", "a.jar"], "java -Ddb.password=[REDACTED] -jar a.jar"],
    [["app", "--password=abc#X"], "app --password=[REDACTED]"],
    [["docker", "login", "-u", "bob", "-p", "X"], "docker login -u bob -p [REDACTED]"],
    [["sqlcmd", "-S", "db", "-U", "sa", "-P", "X"], "sqlcmd -S db -U sa -P [REDACTED]"],
  ];

  it.each(cases)("argv %j", (argv, expected) => {
    expect(p.argv(argv).join(" ")).toBe(expected);
  });

  it.each(cases)("joined %j", (argv, expected) => {
    expect(p.cmdline(argv.join(" "))).toBe(expected);
    expect(p.cmdline(expected)).toBe(expected);
  });
});

describe("commands inside commands, programs after wrappers, text rules on every argument", () => {
  it("redacts an argument that is a command line (sh -c)", () => {
    expect(p.argv(["sh", "-c", "mysql -pSECRET db && curl -H 'Authorization: Bearer x y' h"])).toEqual(["sh", "-c", "mysql -p[REDACTED] db && curl -H 'Authorization: [REDACTED]' h"]);
  });

  it("follows the program after sudo / env", () => {
    expect(p.argv(["sudo", "-u", "app", "redis-cli", "-a", "s3"])).toEqual(["sudo", "-u", "app", "redis-cli", "-a", "[REDACTED]"]);
    expect(p.argv(["env", "PGPASSWORD=s3", "psql", "-p", "5432"])).toEqual(["env", "PGPASSWORD=[REDACTED]", "psql", "-p", "5432"]);
  });

  it("applies the value and field rules to every argument", () => {
    expect(p.argv(["java", "-Ddb.password=s3", "-jar", "app.jar", "--url=https://h/cb?token=t1", `ghp_${"a".repeat(36)}`])).toEqual([
      "java", "-Ddb.password=[REDACTED]", "-jar", "app.jar", "--url=https://h/cb?token=[REDACTED]", "ghp_[REDACTED]",
    ]);
  });

  it("folds a header split over words in a joined line, keeping the spacing elsewhere", () => {
    expect(p.cmdline("curl  -H Authorization: Digest username=\"a\", response=\"b\" https://h")).toBe("curl  -H Authorization: [REDACTED] https://h");
    expect(p.cmdline("curl -H X-Api-Key: k1 -H Accept: */* https://h")).toBe("curl -H X-Api-Key: [REDACTED] -H Accept: */* https://h");
  });

  it("leaves everything when the cmdline category is off", () => {
    const off = new RedactionPolicy({ off: ["cmdline"] });
    expect(off.cmdline("mysql -pSECRET")).toBe("mysql -pSECRET");
    expect(off.argv(["mysql", "-pSECRET"])).toEqual(["mysql", "-pSECRET"]);
  });

  it("keeps empty and odd lines", () => {
    expect(p.cmdline("")).toBe("");
    expect(p.cmdline(" lead")).toBe(" lead");
    expect(p.argv([])).toEqual([]);
  });
});
