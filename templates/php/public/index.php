<?php

// The front controller: PHP's built-in server (`php -S`) sends every request here.

declare(strict_types=1);

require __DIR__ . '/../src/Service.php';

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
[$status, $type, $body] = Service\handle($_SERVER['REQUEST_METHOD'] ?? 'GET', $path);
http_response_code($status);
header('Content-Type: ' . $type);
echo $body;
