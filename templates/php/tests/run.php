<?php

// The unit tests, with PHP's own assertions (no Composer package is needed): each check
// is a closure; a failed one is reported and makes the run exit 1.

declare(strict_types=1);

require __DIR__ . '/../src/Service.php';

use function Service\greeting;
use function Service\handle;

$checks = [
    'greets by name' => fn () => greeting('lbc') === 'Hello, lbc!',
    'GET /healthz answers 200 ok' => fn () => handle('GET', '/healthz') === [200, 'text/plain; charset=utf-8', "ok\n"],
    'GET / answers JSON' => fn () => handle('GET', '/')[0] === 200
        && json_decode(handle('GET', '/')[2], true)['message'] === greeting(getenv('GREETING') ?: 'world'),
    'an unknown path is 404' => fn () => handle('GET', '/nope')[0] === 404,
    'POST is 405' => fn () => handle('POST', '/')[0] === 405,
];

$failed = 0;
foreach ($checks as $name => $check) {
    $ok = $check();
    echo ($ok ? 'PASS ' : 'FAIL ') . $name . PHP_EOL;
    $failed += $ok ? 0 : 1;
}
echo sprintf('%d passed, %d failed', count($checks) - $failed, $failed) . PHP_EOL;
exit($failed === 0 ? 0 : 1);
