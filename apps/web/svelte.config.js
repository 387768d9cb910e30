// Read by @sveltejs/vite-plugin-svelte and svelte-check alike.
/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  compilerOptions: {
    // Runes everywhere: no legacy `export let` / `$:` components can slip in.
    runes: true,
  },
};
