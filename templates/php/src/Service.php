<?php

declare(strict_types=1);

namespace Service;

/**
 * The service's routes, as a pure function of the request: easy to test without a server.
 *
 * @return array{0: int, 1: string, 2: string} status, content type, body
 */
function handle(string $method, string $path): array
{
    if ($method !== 'GET' && $method !== 'HEAD') {
        return [405, 'text/plain; charset=utf-8', "method not allowed\n"];
    }
    return match ($path) {
        '/' => [200, 'application/json', json_encode(['message' => greeting(getenv('GREETING') ?: 'world')]) . "\n"],
        '/healthz' => [200, 'text/plain; charset=utf-8', "ok\n"],
        default => [404, 'text/plain; charset=utf-8', "not found\n"],
    };
}

function greeting(string $name): string
{
    return 'Hello, ' . $name . '!';
}
