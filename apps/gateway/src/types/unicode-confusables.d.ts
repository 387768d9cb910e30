// The package ships its declarations as `index.ts.d`, which TypeScript does not find.
declare module 'unicode-confusables' {
  const confusables: {
    /** The string with each confusable code point replaced by its prototype (confusables.txt). */
    rectifyConfusion(text: string): string;
    isConfusing(text: string): boolean;
  };
  export default confusables;
}
