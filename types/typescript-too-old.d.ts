/**
 * What a TypeScript compiler older than 5.4 finds instead of adjoint's types
 * (the `types@<5.4` condition of package.json's exports, and its
 * typesVersions): nothing, so every import from 'adjoint' fails to compile.
 *
 * adjoint's shape checks are written with `NoInfer` (TypeScript 5.4). An
 * older compiler does not know it and, with skipLibCheck, reads it as `any`:
 * every wrong shape would compile without a word. Use TypeScript 5.4 or later
 * (npm install --save-dev typescript@latest).
 */
export declare const adjointNeedsTypeScript5_4OrLater: unique symbol
